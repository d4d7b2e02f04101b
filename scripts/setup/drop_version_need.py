"""Removes one version a shared library requires of another (an entry of its .gnu.version_r section).

Usage: drop_version_need.py LIBRARY.so VERSION   e.g. libLibTorchSharp.so GLIBCXX_3.4.32
The dynamic loader refuses a library that requires a version no loaded library defines, even when no
symbol is bound at that version any more; patchelf (Debian 12's 0.14) clears a symbol's version but keeps
the requirement, so this unlinks it from its list, in place. Prints what it did; exits 1 if the version is
not required (nothing to do) or the file is not a 64-bit little-endian ELF library.
"""
import os
import struct
import sys

path, version = sys.argv[1], sys.argv[2].encode()
data = bytearray(open(path, "rb").read())
if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
    sys.exit(f"{path}: not a 64-bit little-endian ELF file")
(section_offset,) = struct.unpack_from("<Q", data, 0x28)
section_size, section_count = struct.unpack_from("<HH", data, 0x3A)
SHT_GNU_VERNEED = 0x6FFFFFFE


def section(index):
    # Elf64_Shdr: name, type, flags, addr, offset, size, link, info
    _, kind, _, _, offset, _, link, info = struct.unpack_from("<IIQQQQII", data, section_offset + index * section_size)
    return kind, offset, link, info


sections = [section(i) for i in range(section_count)]
needs = [s for s in sections if s[0] == SHT_GNU_VERNEED]
if not needs:
    sys.exit(f"{path}: requires no symbol versions")
_, need_offset, strings_index, need_count = needs[0]
strings = sections[strings_index][1]


def text(offset):
    start = strings + offset
    return bytes(data[start:data.index(0, start)])


entry = need_offset
for _ in range(need_count):
    # Elf64_Verneed: version, count, file, aux (offset of its first Vernaux), next (offset of the next Verneed)
    _, count, file, aux_offset, next_entry = struct.unpack_from("<HHIII", data, entry)
    previous, aux = None, entry + aux_offset
    for _ in range(count):
        # Elf64_Vernaux: hash, flags, other, name, next (offset of the next Vernaux, 0 for the last)
        _, _, _, name, next_aux = struct.unpack_from("<IHHII", data, aux)
        if text(name) == version:
            if previous is None:  # the first: the list starts at the one after it
                struct.pack_into("<I", data, entry + 8, aux_offset + next_aux if next_aux else 0)
            else:
                (previous_next,) = struct.unpack_from("<I", data, previous + 12)
                struct.pack_into("<I", data, previous + 12, previous_next + next_aux if next_aux else 0)
            struct.pack_into("<H", data, entry + 2, count - 1)
            with open(path + ".tmp", "wb") as out:
                out.write(data)
            os.replace(path + ".tmp", path)
            print(f"{path}: no longer requires {version.decode()} of {text(file).decode()}")
            sys.exit(0)
        previous, aux = aux, aux + next_aux
    entry += next_entry
sys.exit(f"{path}: does not require {version.decode()}")
