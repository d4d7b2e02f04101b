using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Trainer.Torch;

namespace Gpt2Onnx.Trainer.Cli;

/// <summary><c>gpt2-train info</c>: the libtorch behind the trainer.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "print one JSON object on stdout" };
        var command = new Command("info", "show the libtorch in use: version, BLAS, threads, CUDA devices, shim path") { json };
        command.SetAction(parsed =>
        {
            var info = new
            {
                libtorch_version = TorchLibrary.Version,
                shim_path = TorchLibrary.ShimPath,
                blas = TorchLibrary.Blas,
                blas_library = TorchLibrary.LoadedBlasLibrary,
                threads = TorchLibrary.Threads,
                fused_attention = Functional.HasFusedAttention,
                cuda_devices = TorchLibrary.CudaDeviceCount,
            };
            if (parsed.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(info));
            }
            else
            {
                Console.WriteLine($"libtorch {info.libtorch_version} (shim {info.shim_path})");
                Console.WriteLine($"BLAS: {info.blas} ({info.blas_library}), {info.threads} threads");
                Console.WriteLine($"attention: {(info.fused_attention ? "fused kernel" : "explicit form (libtorch < 2.0)")}; CUDA devices: {info.cuda_devices}");
            }
            if (TorchLibrary.BlasWarning is { } warning) Console.Error.WriteLine($"warning: {warning}");
            return 0;
        });
        return command;
    }
}
