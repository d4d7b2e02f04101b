using System.Threading.Channels;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// Where a batch engine reads its requests: a sequence, whose every read may block, or a channel that an
/// asynchronous producer fills as requests arrive. The engine asks without waiting while it has sequences
/// to step, and waits only when it has nothing else to do.
/// </summary>
internal abstract class RequestSource : IDisposable
{
    public enum Read { Item, NotYet, End }

    /// <summary>The next request; when none has arrived yet, <see cref="Read.NotYet"/>, unless <paramref
    /// name="wait"/>.</summary>
    public abstract Read TryRead(bool wait, out BatchItem item);

    public virtual void Dispose() { }

    public static RequestSource Of(IEnumerable<BatchItem> items) => new SequenceSource(items.GetEnumerator());

    /// <summary>A producer's error (the channel completed with it) surfaces from the read that meets it.</summary>
    public static RequestSource Of(ChannelReader<BatchItem> reader, CancellationToken cancellation) =>
        new ChannelSource(reader, cancellation);

    private sealed class SequenceSource(IEnumerator<BatchItem> items) : RequestSource
    {
        public override Read TryRead(bool wait, out BatchItem item)
        {
            bool more = items.MoveNext();
            item = more ? items.Current : null!;
            return more ? Read.Item : Read.End;
        }

        public override void Dispose() => items.Dispose();
    }

    private sealed class ChannelSource(ChannelReader<BatchItem> reader, CancellationToken cancellation) : RequestSource
    {
        public override Read TryRead(bool wait, out BatchItem item)
        {
            while (true)
            {
                if (reader.TryRead(out item!)) return Read.Item;
                if (reader.Completion.IsCompleted)
                {
                    reader.Completion.GetAwaiter().GetResult();
                    return Read.End;
                }
                if (!wait) return Read.NotYet;
                // Blocking is fine: this thread is the engine's own. False: completed; an error or cancellation throws.
                if (!reader.WaitToReadAsync(cancellation).AsTask().GetAwaiter().GetResult()) return Read.End;
            }
        }
    }
}
