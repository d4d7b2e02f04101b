namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// Follows one request through a <see cref="BatchEngine"/> as it runs, for apps that answer each request on its
/// own (a server streaming tokens to its client): when it gets a slot, each token as it is chosen, and its
/// output as soon as it is done, in whatever order requests finish. Its <see cref="Cancellation"/> ends the
/// request at the engine's next step and frees its slot. Every call comes from the engine's thread, so an
/// observer must return quickly (hand the work to another thread) and never throw.
/// </summary>
public abstract class SequenceObserver
{
    /// <summary>Ends the request (with finish reason <see cref="FinishReasons.Cancelled"/>) at the next step.</summary>
    public virtual CancellationToken Cancellation => CancellationToken.None;

    /// <summary>How many alternatives to report with each token's log-probability; null reports none.</summary>
    public virtual int? TopLogprobs => null;

    /// <summary>The request got a slot and its prompt was read: its first token comes with the next step.</summary>
    public virtual void Started() { }

    /// <summary>
    /// A token was chosen (an ending stop token is not reported). <paramref name="text"/> is the text that became
    /// final with it, possibly empty: a character split over several tokens, or text that may begin a stop string,
    /// waits for the tokens that settle it; what is still held at the end is in the output's text.
    /// </summary>
    public abstract void Token(int id, string text, TokenLogprobs? logprobs);

    /// <summary>The request is done: its result (cancelled ones with the tokens they had), or its error.</summary>
    public abstract void Finished(BatchOutput output);
}

/// <summary>
/// A chosen token's log-probability under the model (the log-softmax of its logits, before penalties, temperature
/// and truncation change them), and the most likely tokens' with theirs, most likely first.
/// </summary>
public sealed record TokenLogprobs(float Logprob, IReadOnlyList<(int Id, float Logprob)> Top);
