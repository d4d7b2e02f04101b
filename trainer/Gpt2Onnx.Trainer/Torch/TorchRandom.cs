using static Gpt2Onnx.Trainer.Torch.TorchNative;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>libtorch's default CPU generator: seeding, and its full state for checkpoints.</summary>
public static class TorchRandom
{
    public static void Seed(ulong seed) => Check(g2t_manual_seed(seed));

    /// <summary>The generator's complete state; restoring it continues the exact same random sequence.</summary>
    public static byte[] GetState()
    {
        using var state = new Tensor(g2t_generator_get_state());
        return state.ToArray<byte>();
    }

    public static void SetState(ReadOnlySpan<byte> state)
    {
        using var tensor = Tensor.From(state, state.Length);
        Check(g2t_generator_set_state(tensor.Handle));
    }
}
