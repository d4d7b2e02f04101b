namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// GPT-2's reversible byte-to-character map: printable Latin-1 bytes stand for themselves, the other 68
/// bytes are shifted to U+0100 and above, so every byte sequence is a string of visible characters
/// (a space is 'Ġ', a newline 'Ċ'). vocab.json and merges.txt are written in these characters.
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToCharTable = BuildTable();
    private static readonly byte[] CharToByteTable = BuildInverse(ByteToCharTable); // indexed by char, 0x0000..0x01FF

    public static char ByteToChar(byte value) => ByteToCharTable[value];

    /// <summary>The byte a character stands for, or -1 when the character is outside the alphabet.</summary>
    public static int CharToByte(char c)
    {
        if (c >= CharToByteTable.Length) return -1;
        byte b = CharToByteTable[c];
        return ByteToCharTable[b] == c ? b : -1;
    }

    /// <summary>Maps bytes to their alphabet characters.</summary>
    public static void Map(ReadOnlySpan<byte> bytes, Span<char> chars)
    {
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToCharTable[bytes[i]];
    }

    /// <summary>The bytes a token written in the alphabet stands for; null when it has a character outside
    /// it.</summary>
    public static byte[]? ToBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            int b = CharToByte(token[i]);
            if (b < 0) return null;
            bytes[i] = (byte)b;
        }
        return bytes;
    }

    public static string ToText(ReadOnlySpan<byte> bytes)
    {
        Span<char> chars = bytes.Length <= 256 ? stackalloc char[bytes.Length] : new char[bytes.Length];
        Map(bytes, chars);
        return new string(chars);
    }

    private static char[] BuildTable()
    {
        var table = new char[256];
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)(256 + shifted++);
        }
        return table;
    }

    private static byte[] BuildInverse(char[] table)
    {
        var inverse = new byte[0x200];
        for (int b = 0; b < 256; b++) inverse[table[b]] = (byte)b;
        return inverse;
    }
}
