using Gpt2Onnx.Trainer.Torch;

namespace Gpt2Onnx.Trainer.Tests;

public class TorchSmokeTests
{
    [Fact]
    public void A_tensor_created_through_the_shim_reads_back_the_values_written()
    {
        float[] values = [1.5f, -2f, 3.25f, 0f, 1e-30f, float.MaxValue];
        using var tensor = Tensor.From<float>(values, 2, 3);
        Assert.Equal([2L, 3L], tensor.Shape);
        Assert.Equal(ScalarType.Float32, tensor.DType);
        Assert.Equal(values, tensor.ToArray<float>());
    }

    [Fact]
    public void A_thread_count_below_one_is_our_error_and_leaves_the_setting_alone()
    {
        int before = TorchLibrary.Threads;
        Assert.Contains("--threads must be positive, not -3", Assert.Throws<Gpt2Onnx.Runtime.Gpt2OnnxException>(() => TorchLibrary.Threads = -3).Message);
        Assert.Equal(before, TorchLibrary.Threads);
    }

    [Fact]
    public void A_shape_that_does_not_match_the_data_is_libtorchs_error_not_a_crash()
    {
        var error = Assert.Throws<TorchException>(() => Tensor.From<long>([1L, 2L, 3L], 2, 2));
        Assert.Contains("bytes", error.Message);
    }

    [Fact]
    public void The_shim_runs_the_pinned_libtorch_release() =>
        Assert.StartsWith("1.13", TorchLibrary.Version);
}
