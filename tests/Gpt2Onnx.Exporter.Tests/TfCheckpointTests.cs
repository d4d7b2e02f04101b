using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints.TensorFlow;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>
/// OpenAI's and GPT2_ML's TensorFlow checkpoints through convert and export, run in ONNX Runtime, against the
/// float64 reference of the Hugging Face checkpoint their values came from.
/// </summary>
public sealed class TfCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly int[] Prompt = [5, 17, 3, 60, 42, 42, 0, 11, 64, 2];

    private string Tf => Path.Combine(_dir, "tf");

    private static double MaxAbsDiff(double[][] expected, List<float[]> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        return expected.SelectMany((row, i) => row.Select((v, j) => Math.Abs(v - actual[i][j]))).Max();
    }

    private string Source(bool gpt2Ml) =>
        gpt2Ml ? TinyTfCheckpoint.WriteGpt2Ml(_dir) : TinyTfCheckpoint.WriteOpenAi(_dir);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_converted_checkpoint_exports_portable_and_fused_graphs_that_match_the_reference(bool gpt2Ml)
    {
        string source = Source(gpt2Ml);
        var converted = TfCheckpointConverter.Convert(Tf, Path.Combine(_dir, "hf"));
        Assert.Equal(gpt2Ml, converted.Config.IsGpt2Ml);
        using var reference = Gpt2Checkpoint.Open(source);
        var expected = new ReferenceGpt2(reference).Forward(Prompt);
        foreach (var variant in new[] { GraphVariant.Portable, GraphVariant.Fused })
        {
            string onnx = Path.Combine(_dir, "onnx-" + variant);
            OnnxExporter.Export(converted.OutputDirectory, onnx, new ExportOptions { Variant = variant });
            using var runner = new ExportedGraphRunner(onnx, converted.Config);
            var logits = variant == GraphVariant.Portable
                ? runner.RunPortable(Prompt[..6], Prompt[6..])
                : runner.RunFused(converted.Config.NPositions, Prompt[..6], Prompt[6..7], Prompt[7..]);
            double diff = MaxAbsDiff(expected, logits);
            Assert.True(diff <= 1e-4, $"{variant}: max |Δ| {diff}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Conversion_writes_the_source_values_and_leaves_optimizer_slots_unread(bool gpt2Ml)
    {
        // The slots carry checksums that do not match: reading any one of them would fail the conversion.
        string source = Source(gpt2Ml);
        var converted = TfCheckpointConverter.Convert(Tf, Path.Combine(_dir, "hf"));
        using var original = Gpt2Checkpoint.Open(source);
        using var written = Gpt2Checkpoint.Open(converted.OutputDirectory);
        foreach (var (name, _) in CheckpointLayout.ExpectedTensors(original.Config))
            Assert.Equal(original.ReadFloat32(name), written.ReadFloat32(name));
        int variables = gpt2Ml ? 4 + 16 * original.Config.NLayer : 4 + 12 * original.Config.NLayer;
        int slots = gpt2Ml ? 1 : 2;
        Assert.Equal(variables * slots + 2, converted.Skipped); // + global_step and beta1_power
    }

    [Fact]
    public void OpenAis_tokenizer_files_become_vocab_json_and_merges_txt()
    {
        TinyTfCheckpoint.WriteOpenAi(_dir);
        var converted = TfCheckpointConverter.Convert(Tf, Path.Combine(_dir, "hf"));
        var fromTf = TfCheckpointFolder.OpenAiTokenizer(Tf)!;
        var written = Gpt2Onnx.Runtime.Tokenizers.Tokenizer.Load(converted.OutputDirectory);
        var ids = new List<int>();
        var expected = new List<int>();
        written.Encode("the lazy dog says hello", ids);
        fromTf.Encode("the lazy dog says hello", expected);
        Assert.Equal(expected, ids);
    }

    [Fact]
    public void Gpt2_ml_takes_its_special_ids_and_exact_gelu_from_its_release()
    {
        TinyTfCheckpoint.WriteGpt2Ml(_dir);
        using var checkpoint = Gpt2Checkpoint.Open(Tf);
        Assert.Equal(Gpt2Config.Gpt2MlBlock, checkpoint.Config.Block);
        Assert.Equal("gelu", checkpoint.Config.ActivationFunction);
        Assert.Equal((2, 3), (checkpoint.Config.BosTokenId, checkpoint.Config.EosTokenId)); // [CLS], [SEP]
    }

    [Fact]
    public void The_tf_folder_itself_exports_with_its_tokenizer()
    {
        string source = TinyTfCheckpoint.WriteOpenAi(_dir);
        var result = OnnxExporter.Export(Tf, Path.Combine(_dir, "onnx"), new ExportOptions());
        Assert.True(result.HasTokenizer);
        Assert.True(File.Exists(Path.Combine(result.OutputDirectory, "vocab.json")));
        using var reference = Gpt2Checkpoint.Open(source);
        using var runner = new ExportedGraphRunner(result.OutputDirectory, reference.Config);
        Assert.True(MaxAbsDiff(new ReferenceGpt2(reference).Forward(Prompt), runner.RunPortable(Prompt)) <= 1e-4);
    }

    [Fact]
    public void More_layers_in_the_checkpoint_than_in_hparams_is_one_clear_line()
    {
        TinyTfCheckpoint.WriteOpenAi(_dir);
        string hparams = Path.Combine(Tf, "hparams.json");
        File.WriteAllText(hparams, File.ReadAllText(hparams).Replace("\"n_layer\":2", "\"n_layer\":1"));
        var e = Assert.Throws<Gpt2OnnxException>(() => Gpt2Checkpoint.Open(Tf));
        Assert.Contains("model/h1/", e.Message);
        Assert.Contains("does n_layer match the checkpoint?", e.Message);
    }

    [Fact]
    public void A_folder_without_hparams_says_what_to_copy()
    {
        TinyTfCheckpoint.WriteOpenAi(_dir);
        File.Delete(Path.Combine(Tf, "hparams.json"));
        var e = Assert.Throws<Gpt2OnnxException>(() => Gpt2Checkpoint.Open(Tf));
        Assert.Contains("no hparams.json", e.Message);
    }

    [Fact]
    public void The_block_is_named_in_config_json_and_an_unknown_one_is_refused()
    {
        var config = TinyCheckpoint.Config() with { Block = Gpt2Config.Gpt2MlBlock };
        string path = Path.Combine(_dir, "config.json");
        config.Save(path);
        Assert.Equal(Gpt2Config.Gpt2MlBlock, Gpt2Config.Load(path).Block);
        Assert.Null(TinyCheckpoint.Config().ToJson()["block"]); // GPT-2's files stay exactly Hugging Face's
        File.WriteAllText(path, File.ReadAllText(path).Replace("gpt2_ml", "bert"));
        var e = Assert.Throws<Gpt2OnnxException>(() => Gpt2Config.Load(path));
        Assert.Contains("block 'bert' is not known (use gpt2 or gpt2_ml)", e.Message);
    }
}
