namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary><c>GET /v1/models</c>: the one model this server runs, and the check that a request names it.</summary>
internal static class ModelsEndpoint
{
    public static object List(ServerOptions options, DateTimeOffset loaded) => new
    {
        @object = "list",
        data = new[]
        {
            new
            {
                id = options.ModelName, @object = "model", created = loaded.ToUnixTimeSeconds(), owned_by = "gpt2onnx",
            },
        },
    };

    /// <summary>A request may leave <c>model</c> out (curl); naming another one is a 404, as OpenAI answers.</summary>
    public static void CheckModel(RequestFields fields, ServerOptions options)
    {
        string? model = fields.String("model");
        if (model != null && model != options.ModelName)
            throw new ApiError(404, $"the model '{model}' does not exist here: this server runs '{options.ModelName}'",
                               "model", "model_not_found");
    }
}
