using System.Text.Json;
using Gpt2Onnx.Core;
using Gpt2Onnx.TestSupport;
using Gpt2Onnx.Trainer.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Tests;

public class TorchRuntimeTests
{
    [Fact]
    public void The_pinned_libtorch_release_is_loaded_from_outside_the_output_folder()
    {
        Assert.StartsWith("2.10", TorchRuntime.Version);
        Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so")));
        // TorchSharp's fallback copies all of libtorch into a "cpu" folder beside it when its first load fails.
        Assert.False(Directory.Exists(Path.Combine(AppContext.BaseDirectory, "cpu")));
        Assert.True(File.Exists(Path.Combine(TorchRuntime.LibTorchFolder, "libtorch_cpu.so")));
    }

    [Fact]
    public async Task The_trainers_main_thread_keeps_large_tensors_in_the_heap_instead_of_mmapping_each_one()
    {
        // Only the process's main thread uses glibc's main heap, so this runs in a process of its own.
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync("gpt2-train", "info", "--json");
        Assert.True(exitCode == 0, stderr);
        using var info = JsonDocument.Parse(stdout);
        Assert.True(info.RootElement.GetProperty("heap_keeps_large_tensors").GetBoolean());
    }

    [Fact]
    public void A_tensor_reads_back_the_values_written()
    {
        float[] values = [1.5f, -2f, 3.25f, 0f, 1e-30f, float.MaxValue];
        using var t = tensor(values, [2, 3]);
        Assert.Equal([2L, 3L], t.shape);
        Assert.Equal(values, t.data<float>().ToArray());
    }

    [Fact]
    public void A_thread_count_below_one_is_our_error_and_leaves_the_setting_alone()
    {
        int before = TorchRuntime.Threads;
        var error = Assert.Throws<Gpt2OnnxException>(() => TorchRuntime.Threads = -3);
        Assert.Contains("--threads must be positive, not -3", error.Message);
        Assert.Equal(before, TorchRuntime.Threads);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:1")]
    public void A_CUDA_device_without_a_CUDA_libtorch_is_one_clear_error(string device)
    {
        if (TorchSharp.torch.cuda.is_available()) return; // this check is about CPU-only libtorch builds
        var error = Assert.Throws<Gpt2OnnxException>(() => TrainingDevice.Parse(device));
        Assert.StartsWith($"--device {device}: the libtorch in use", error.Message);
        Assert.EndsWith("has no CUDA: set GPT2ONNX_LIBTORCH to the lib folder of a CUDA build of libtorch 2.10, " +
                        "or train with --device cpu", error.Message);
        Assert.DoesNotContain("\n", error.Message);
    }

    [Fact]
    public void A_device_name_that_is_not_one_is_refused()
    {
        var error = Assert.Throws<Gpt2OnnxException>(() => TrainingDevice.Parse("gpu0"));
        Assert.Equal("--device gpu0 is not a device: use cpu, cuda or cuda:N", error.Message);
        Assert.Equal(DeviceType.CPU, TrainingDevice.Parse("cpu").type);
    }
}
