using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Tests.Tokenizers;

public class ParallelEncoderTests
{
    [Fact]
    public void Parallel_encoding_gives_each_document_the_ids_of_encoding_it_alone()
    {
        var gpt2 = BpeTokenizer.Load(RepositoryPaths.Gpt2Tokenizer);
        var documents = Directory.GetFiles(RepositoryPaths.BrownCorpus).Order(StringComparer.Ordinal).Take(60)
            .Select(File.ReadAllText).ToList();
        var parallel = ParallelEncoder.EncodeAll(gpt2, documents, threads: 4);
        for (int i = 0; i < documents.Count; i++)
            Assert.Equal(gpt2.Encode(documents[i]), parallel[i]);
    }

    [Fact]
    public void A_negative_thread_count_is_refused() =>
        Assert.Contains("--threads must be 0 (every core) or more, not -1",
            Assert.Throws<Gpt2OnnxException>(
                () => ParallelEncoder.EncodeAll(BpeTokenizer.Load(RepositoryPaths.Gpt2Tokenizer), ["a"], threads: -1))
                .Message);
}
