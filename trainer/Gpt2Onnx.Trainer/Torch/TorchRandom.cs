using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>
/// libtorch's default CPU generator (initialisation, dropout): seeding, and its whole state for checkpoints.
/// </summary>
public static class TorchRandom
{
    public static void Seed(ulong seed)
    {
        TorchRuntime.Load();
        random.manual_seed(unchecked((long)seed));
    }

    /// <summary>The generator's complete state; restoring it continues the exact same random sequence.</summary>
    public static byte[] GetState()
    {
        TorchRuntime.Load();
        using var state = random.get_rng_state();
        return state.data<byte>().ToArray();
    }

    /// <summary>Restores a state from <see cref="GetState"/> (libtorch 1.13's has the same layout).</summary>
    /// <exception cref="ArgumentException">the state is not one of this generator's</exception>
    public static void SetState(byte[] state)
    {
        // libtorch checks the size too, but TorchSharp lets that C++ exception end the process.
        int expected = GetState().Length;
        if (state.Length != expected)
            throw new ArgumentException(
                $"a state of {state.Length} bytes, where this libtorch's generator keeps {expected}");
        using var tensor = TorchSharp.torch.tensor(state, ScalarType.Byte);
        random.set_rng_state(tensor);
    }
}
