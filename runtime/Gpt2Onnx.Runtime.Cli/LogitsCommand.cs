using System.CommandLine;
using System.Text;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary>
/// <c>gpt2-run logits</c>: the logits of every position of a prompt, as a NumPy file (float32, sequence × vocabulary),
/// to compare what two runtimes or devices compute (scripts/gpu-check.sh holds CUDA against the CPU with it).
/// </summary>
internal static class LogitsCommand
{
    public static Command Create()
    {
        var model = new ModelFlags();
        var ids = new Option<string>("--prompt-ids")
        {
            Description = "the prompt's token ids, comma-separated", Required = true,
        };
        var output = new Option<string>("--out")
        {
            Description = "the .npy file to write (float32, prompt length × vocabulary)", Required = true,
        };
        var command = new Command("logits", "write the logits of every prompt position as a NumPy .npy file")
        {
            ids, output,
        };
        model.AddTo(command);
        command.SetAction(parsed =>
        {
            var prompt = TokenIdList.Parse(parsed.GetValue(ids)!);
            using var languageModel = model.Load(parsed);
            if (prompt.Length == 0 || prompt.Length > languageModel.ContextLength)
                throw new Gpt2OnnxException($"--prompt-ids has {prompt.Length} ids; give 1 to " +
                                            $"{languageModel.ContextLength} (the model's context)");
            if (prompt.Any(id => id < 0 || id >= languageModel.VocabSize))
                throw new Gpt2OnnxException($"--prompt-ids holds an id outside the vocabulary of " +
                                            $"{languageModel.VocabSize}");
            float[] logits = languageModel.SequenceLogits(prompt);
            int vocab = languageModel.VocabSize;
            AtomicFile.Write(parsed.GetValue(output)!, stream => WriteNpy(stream, logits, prompt.Length, vocab));
            return 0;
        });
        return command;
    }

    /// <summary>NumPy's .npy format 1.0: magic, a header dictionary padded to 64 bytes, then the values.</summary>
    private static void WriteNpy(Stream stream, float[] values, int rows, int columns)
    {
        string dictionary = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}";
        int unpadded = 10 + dictionary.Length + 1;
        string header = dictionary + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        Span<byte> length = stackalloc byte[2];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
        stream.Write(length);
        stream.Write(Encoding.ASCII.GetBytes(header));
        stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
    }
}
