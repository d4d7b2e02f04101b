namespace Gpt2Onnx.Trainer.Training;

/// <summary>Linear warm-up to the peak, then a cosine decay to a floor at the last step (as nanoGPT).</summary>
public sealed record LearningRateSchedule(double Peak, double Floor, int WarmupSteps, int TotalSteps)
{
    /// <summary>The learning rate of 1-based step <paramref name="step"/>.</summary>
    public double At(int step)
    {
        if (step <= WarmupSteps) return Peak * step / Math.Max(1, WarmupSteps);
        if (step >= TotalSteps) return Floor;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Floor + 0.5 * (1 + Math.Cos(Math.PI * progress)) * (Peak - Floor);
    }
}
