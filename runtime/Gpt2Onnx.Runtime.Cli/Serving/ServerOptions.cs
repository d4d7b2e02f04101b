namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>What <c>gpt2-run serve</c> was told: where it listens, how much it takes on, and who may call it.</summary>
internal sealed record ServerOptions
{
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (tests); the one bound is printed at start.</summary>
    public int Port { get; init; } = 8080;
    /// <summary>The name clients give as <c>model</c> and see in /v1/models; the model's folder by default.</summary>
    public string ModelName { get; init; } = "gpt2";
    /// <summary>Sequences decoded together: every request shares this one batch.</summary>
    public int MaxBatch { get; init; } = 16;
    /// <summary>Sequences accepted but still waiting for a slot; past it, requests are refused with 429.</summary>
    public int MaxQueue { get; init; } = 256;
    /// <summary>Tokens a sequence's cache holds, prompt included (0: the context); it sizes the cache.</summary>
    public int MaxLength { get; init; }
    public long MaxBodyBytes { get; init; } = 1 << 20;
    /// <summary>Most choices one request may ask for (<c>n</c>).</summary>
    public int MaxChoices { get; init; } = 16;
    /// <summary>Most prompts in one completions request's <c>prompt</c> array.</summary>
    public int MaxPrompts { get; init; } = 64;
    /// <summary>Most new tokens a request may ask for (<c>max_tokens</c>); the context bounds them too.</summary>
    public int MaxTokens { get; init; } = 4096;
    /// <summary><c>max_tokens</c> when a request leaves it out (OpenAI's completions default).</summary>
    public int DefaultMaxTokens { get; init; } = 16;
    /// <summary>Most alternatives a request may ask for per token (<c>logprobs</c>, <c>top_logprobs</c>).</summary>
    public int MaxLogprobs { get; init; } = 20;
    /// <summary>When set, every endpoint but /health wants <c>Authorization: Bearer</c> with it.</summary>
    public string? ApiKey { get; init; }
    public ChatTemplate ChatTemplate { get; init; } = ChatTemplate.Default;
    /// <summary>How long a stop (SIGTERM) lets requests in flight finish before it cancels them.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
