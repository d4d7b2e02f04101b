using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;

namespace Gpt2Onnx.Trainer.Model;

/// <summary>The presets of models/presets (built into the assembly), or any config.json by path.</summary>
public static class ModelPresets
{
    public static IReadOnlyList<string> Names { get; } = typeof(ModelPresets).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith("presets/", StringComparison.Ordinal))
        .Select(n => Path.GetFileNameWithoutExtension(n)).Order(StringComparer.Ordinal).ToList();

    /// <summary>A preset by name, or a config.json file by path.</summary>
    public static Gpt2Config Resolve(string nameOrPath)
    {
        if (File.Exists(nameOrPath)) return Gpt2Config.Load(nameOrPath);
        using var stream = typeof(ModelPresets).Assembly.GetManifestResourceStream($"presets/{nameOrPath}.json")
            ?? throw new Gpt2OnnxException($"'{nameOrPath}' is neither a config file nor a preset (presets: " +
                                           $"{string.Join(", ", Names)})");
        var json = JsonNode.Parse(stream) as JsonObject
            ?? throw new InvalidOperationException("a preset is not a JSON object");
        return Gpt2Config.FromJson(json, $"preset {nameOrPath}");
    }
}
