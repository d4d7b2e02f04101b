using GenAi = Microsoft.ML.OnnxRuntimeGenAI;

namespace Gpt2Onnx.GenAI.Tests;

/// <summary>
/// onnxruntime-genai's Tokenizer refuses a WordPiece export. Run after every other GenAI test (its collection is
/// ordered last): in GenAI 0.20, a process whose Tokenizer failed to load crashed at its next TokenizerStream use.
/// </summary>
[Collection(GenAiCollection.Last)]
public sealed class RefusedTokenizerTests(TinyExports exports)
{
    [Fact]
    public void GenAis_tokenizer_cannot_read_a_wordpiece_export()
    {
        // onnxruntime-extensions' tokenizer knows BPE and Unigram models only (by tokenizer_class): the README says so.
        string folder = exports.WordPiece;
        Assert.True(File.Exists(Path.Combine(folder, "tokenizer.json")));
        using var model = new GenAi.Model(folder);

        Assert.Throws<GenAi.OnnxRuntimeGenAIException>(() => new GenAi.Tokenizer(model).Dispose());
    }
}
