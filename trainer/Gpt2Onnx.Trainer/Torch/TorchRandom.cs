using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>libtorch's default CPU generator (initialisation, dropout): seeding, and its whole state for checkpoints.</summary>
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

    /// <summary>Restores a state from <see cref="GetState"/>; libtorch refuses (an exception with its reason) one of another size.</summary>
    public static void SetState(byte[] state)
    {
        TorchRuntime.Load();
        using var tensor = TorchSharp.torch.tensor(state, ScalarType.Byte);
        random.set_rng_state(tensor);
    }
}
