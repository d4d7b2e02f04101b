using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Core;
using Gpt2Onnx.Trainer.Torch;
using TorchSharp;

namespace Gpt2Onnx.Trainer.Cli;

/// <summary><c>gpt2-train info</c>: the libtorch behind the trainer.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "print one JSON object on stdout" };
        var check = new Option<bool>("--check")
        {
            Description = "also multiply two small matrices; exit 1 unless the product is right",
        };
        var command = new Command("info", "show the libtorch in use: version, folders, threads, bf16, CUDA devices")
        {
            json, check,
        };
        command.SetAction(parsed =>
        {
            if (parsed.GetValue(check)) MatmulCheck();
            var info = new
            {
                libtorch_version = TorchRuntime.Version,
                libtorch_folder = Shown(TorchRuntime.LibTorchFolder),
                torchsharp_library = Shown(TorchRuntime.TorchSharpLibrary),
                threads = TorchRuntime.Threads,
                native_bf16 = CpuFeatures.HasNativeBf16,
                heap_keeps_large_tensors = TensorHeap.KeepsLargeTensors(),
                cuda_devices = torch.cuda.is_available() ? torch.cuda.device_count() : 0,
            };
            if (parsed.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(info));
            }
            else
            {
                Console.WriteLine($"libtorch {info.libtorch_version} ({info.libtorch_folder})");
                Console.WriteLine($"TorchSharp native library: {info.torchsharp_library}");
                string bf16 = info.native_bf16 ? "yes" : "no";
                Console.WriteLine($"{info.threads} threads; native bf16: {bf16}; CUDA devices: {info.cuda_devices}");
                Console.WriteLine(info.heap_keeps_large_tensors
                    ? "large tensors: kept in the heap for the next step"
                    : "large tensors: mmapped and unmapped each time (not glibc, or the heap setting failed)");
            }
            return 0;
        });
        return command;
    }

    /// <summary>A path inside the current folder relative to it (the repository's .deps), others in full.</summary>
    private static string Shown(string path)
    {
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? path : relative;
    }

    /// <summary>[[0 1 2] [3 4 5]] @ ones(3, 2) is [[3 3] [12 12]]: libtorch loaded and computes.</summary>
    private static void MatmulCheck()
    {
        TorchRuntime.Load();
        using var scope = torch.NewDisposeScope();
        var a = torch.arange(6, torch.ScalarType.Float32).reshape(2, 3);
        var product = a.matmul(torch.ones(3, 2)).data<float>().ToArray();
        if (!product.SequenceEqual([3f, 3f, 12f, 12f]))
            throw new Gpt2Onnx.Core.Gpt2OnnxException($"libtorch computed [{string.Join(", ", product)}] " +
                "for a product whose answer is [3, 3, 12, 12]: the native libraries are broken");
    }
}
