namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>The process's one OrtEnv (ONNX Runtime allows a single environment per process), created on first use.</summary>
internal static unsafe class OrtEnvironment
{
    private static readonly Lazy<OrtEnvHandle> Env = new(() =>
    {
        IntPtr env;
        fixed (byte* id = OrtApi.Utf8("gpt2onnx"))
            OrtApi.Check(OrtApi.Api.CreateEnv((int)OrtLogLevel.Fatal, id, &env)); // what ONNX Runtime logs outside a session; its errors come back as statuses
        return OrtEnvHandle.Wrap(env);
    });

    public static IntPtr Handle => Env.Value.DangerousGetHandle();
}

/// <summary>ONNX Runtime's logging severities.</summary>
public enum OrtLogLevel { Verbose = 0, Info = 1, Warning = 2, Error = 3, Fatal = 4 }

/// <summary>ONNX Runtime's graph optimisation levels.</summary>
public enum GraphOptimization { None = 0, Basic = 1, Extended = 2, All = 99 }
