using Prometheus;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>
/// What /metrics reports, in Prometheus's text format (prometheus-net): requests by endpoint and status, tokens in
/// and out, the queue, the batch's occupancy, and the latencies a client feels. Each server has its own registry,
/// so servers in one process (tests) count apart.
/// </summary>
internal sealed class ServerMetrics
{
    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();
    public Counter Requests { get; }
    public Counter PromptTokens { get; }
    public Counter CompletionTokens { get; }
    public Counter Cancelled { get; }
    public Gauge QueueLength { get; }
    public Gauge RunningSequences { get; }
    public Gauge BatchOccupancy { get; }
    public Histogram TimeToFirstToken { get; }
    public Histogram InterTokenLatency { get; }

    public ServerMetrics(int maxBatch)
    {
        var factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("gpt2_requests_total", "HTTP requests answered, by endpoint and status code",
                                         new CounterConfiguration { LabelNames = ["endpoint", "status"] });
        PromptTokens = factory.CreateCounter("gpt2_prompt_tokens_total", "prompt tokens read");
        CompletionTokens = factory.CreateCounter("gpt2_completion_tokens_total", "tokens generated");
        Cancelled = factory.CreateCounter("gpt2_cancelled_sequences_total", "sequences ended early: their client left");
        QueueLength = factory.CreateGauge("gpt2_queue_length", "sequences accepted and waiting for a slot");
        RunningSequences = factory.CreateGauge("gpt2_running_sequences", "sequences in the batch now");
        BatchOccupancy = factory.CreateGauge("gpt2_batch_occupancy", $"running sequences over the {maxBatch} slots");
        // From 1 ms to about 65 s, doubling: a token on a CPU takes milliseconds, a first token under load seconds.
        var buckets = Histogram.ExponentialBuckets(0.001, 2, 17);
        var histogram = new HistogramConfiguration { Buckets = buckets };
        TimeToFirstToken = factory.CreateHistogram("gpt2_time_to_first_token_seconds", "to 1st token", histogram);
        InterTokenLatency = factory.CreateHistogram("gpt2_inter_token_latency_seconds", "token to token", histogram);
    }
}
