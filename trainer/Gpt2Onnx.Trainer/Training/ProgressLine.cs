namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// The progress line of a training run ("step 10/100 | loss 5.1234 | lr 3.00E-004 | 9,000 tok/s | ETA 0:01:30"):
/// written for a session's first step and the run's last, and otherwise at most every two seconds, so a fast run
/// does not flood its log.
/// </summary>
internal sealed class ProgressLine(TextWriter log)
{
    private TimeSpan _lastWritten = TimeSpan.Zero;

    /// <param name="stepTime">this step's time, evaluation included: the ETA assumes each step left takes it</param>
    public void WriteIfDue(TrainingRun run, double loss, double lr, double tokensPerSecond, TimeSpan stepTime)
    {
        var clock = run.Clock;
        var options = run.Options;
        if (clock.Elapsed - _lastWritten <= TimeSpan.FromSeconds(2) && !run.IsLastStep && run.Step != run.FirstStep + 1)
            return;
        _lastWritten = clock.Elapsed;
        double remaining = (options.Steps - run.Step) * stepTime.TotalSeconds;
        if (options.Minutes is double budget)
            remaining = Math.Min(remaining, Math.Max(0, budget * 60 - clock.Elapsed.TotalSeconds));
        string rate = options.RelativeStep ? "relative" : $"{lr:E2}"; // Adafactor's own step size
        log.WriteLine($"step {run.Step}/{options.Steps} | loss {loss:F4} | lr {rate} | {tokensPerSecond:N0} tok/s | " +
                      $"ETA {TimeSpan.FromSeconds(Math.Round(remaining)):c}");
    }
}
