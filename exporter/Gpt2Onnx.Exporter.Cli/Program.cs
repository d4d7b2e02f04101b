using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Exporter;
using Gpt2Onnx.Exporter.Graphs;
using Spectre.Console;

var checkpoint = new Option<string>("--checkpoint") { Description = "HF-layout GPT-2 checkpoint folder (config.json " +
                                                                    "+ model.safetensors, or pytorch_model.bin)" };
var output = new Option<string>("--out") { Description = "the ONNX folder to write" };
var variant = new Option<GraphVariant>("--variant") { Description = "portable (standard ONNX) or fused (ONNX Runtime " +
                                                                    "contrib operators)", DefaultValueFactory = _ =>
                                                                        GraphVariant.Portable };
var precision = new Option<Precision>("--precision")
{
    Description = "fp32, fp16 (float16 weights, compute and cache; float logits), int8 or int4 (weights only; " +
                  "with --variant fused)",
    DefaultValueFactory = _ => Precision.Fp32,
};
var headPrecision = new Option<HeadPrecision?>("--head-precision")
{
    Description = "int4 and int8: the tied embedding and LM head as int4, int8 or fp32 (default: as --precision)",
};
var headInt8Rows = new Option<int?>("--head-int8-rows")
{
    Description = "with an int4 head: the rows of the first N token ids (the most frequent) stay int8 " +
                  "(default: a 32nd of the vocabulary; 0: all int4)",
};
var blockSize = new Option<int>("--block-size")
{
    Description = "int4 and int8: weights per scale", DefaultValueFactory = _ => 32,
};
var externalData = new Option<bool>("--external-data") { Description = "store weights in model.onnx.data (automatic " +
                                                                       "above 2 GB)" };
var force = new Option<bool>("--force") { Description = "replace --out if it exists" };
var hiddenStates = new Option<bool>("--with-hidden-states")
{
    Description = "also output each layer's residual stream and logit lens (a portable fp32 graph, for gpt2-run lens)",
};
var json = new Option<bool>("--json") { Description = "print one JSON object" };

var root = new RootCommand("gpt2-export: write a GPT-2 checkpoint as an ONNX graph with a key/value cache")
{
    checkpoint, output, variant, precision, headPrecision, headInt8Rows, blockSize, externalData, force, json,
    hiddenStates,
};
root.SetAction(parsed =>
{
    CliHost.Require(parsed.GetValue(checkpoint) != null && parsed.GetValue(output) != null,
                    "give --checkpoint DIR and --out DIR (or use 'gpt2-export inspect DIR')");
    var options = new ExportOptions
    {
        Variant = parsed.GetValue(variant),
        Precision = parsed.GetValue(precision),
        Head = parsed.GetValue(headPrecision),
        HeadInt8Rows = parsed.GetValue(headInt8Rows),
        BlockSize = parsed.GetValue(blockSize),
        ExternalData = parsed.GetValue(externalData),
        Force = parsed.GetValue(force),
        WithHiddenStates = parsed.GetValue(hiddenStates),
    };
    Console.Error.WriteLine($"exporting {parsed.GetValue(checkpoint)} as " +
                            $"{options.Variant.ToString().ToLowerInvariant()} " +
                            $"{options.Precision.ToString().ToLowerInvariant()}");
    if (parsed.GetResult(blockSize) is { Implicit: false } && options.WeightBits == null)
        Console.Error.WriteLine("note: --block-size is for --precision int4 and int8; " +
                                $"this {options.Precision.ToString().ToLowerInvariant()} export does not use it");
    var result = OnnxExporter.Export(parsed.GetValue(checkpoint)!, parsed.GetValue(output)!, options);
    if (parsed.GetValue(json))
        Console.WriteLine(JsonSerializer.Serialize(new { output = result.OutputDirectory,
                                                         model_bytes = result.ModelBytes, data_bytes = result.DataBytes,
                                                         nodes = result.Nodes, seconds = result.Seconds,
                                                         has_tokenizer = result.HasTokenizer }));
    else
        Console.Error.WriteLine($"wrote {result.OutputDirectory} ({(result.ModelBytes + result.DataBytes) / 1e6:F1} " +
                                $"MB, {result.Nodes} nodes) in {result.Seconds:F1} s");
    if (!result.HasTokenizer)
        Console.Error.WriteLine($"note: {parsed.GetValue(checkpoint)} holds no tokenizer, so neither does the " +
                                "export, and gpt2-run needs one: copy the model's tokenizer (models/gpt2-tokenizer/* " +
                                "for GPT-2's) into the checkpoint and export again");
    return 0;
});

var inspectPath = new Argument<string>("path") { Description = "an ONNX folder or .onnx file" };
var inspect = new Command("inspect",
                          "describe an ONNX model: inputs, outputs, opsets, operators, parameters, files, " +
                          "metadata") { inspectPath, json };
inspect.SetAction(parsed =>
{
    var report = ModelInspector.Inspect(parsed.GetValue(inspectPath)!);
    if (parsed.GetValue(json))
    {
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            path = report.Path, ir_version = report.IrVersion,
            opsets = report.Opsets.ToDictionary(o => o.Domain, o => o.Version),
            inputs = report.Inputs.Select(i => new { name = i.Name, type = i.Type, shape = i.Shape }),
            outputs = report.Outputs.Select(i => new { name = i.Name, type = i.Type, shape = i.Shape }),
            operators = report.Operators.ToDictionary(o => o.Op, o => o.Count),
            parameters = report.Parameters,
            files = report.Files.ToDictionary(f => f.File, f => f.Bytes),
            metadata = report.Metadata.ToDictionary(m => m.Key, m => m.Value),
        }));
        return 0;
    }
    var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out),
                                                               Ansi = AnsiSupport.No, ColorSystem =
                                                                   ColorSystemSupport.NoColors });
    console.WriteLine($"{report.Path}: IR {report.IrVersion}, opsets " +
                      $"{string.Join(", ", report.Opsets.Select(o => $"{o.Domain} {o.Version}"))}");
    console.WriteLine($"parameters: {report.Parameters:N0}; files: " +
                      $"{string.Join(", ", report.Files.Select(f => $"{f.File} {f.Bytes / 1e6:F1} MB"))}");
    var io = new Table().AddColumns("", "name", "type", "shape");
    foreach (var i in report.Inputs.Take(4)) Row(io, "input", i.Name, i.Type, i.Shape);
    if (report.Inputs.Count > 4) Row(io, "input", $"... and {report.Inputs.Count - 4} more", "", "");
    foreach (var o in report.Outputs.Take(3)) Row(io, "output", o.Name, o.Type, o.Shape);
    if (report.Outputs.Count > 3) Row(io, "output", $"... and {report.Outputs.Count - 3} more", "", "");
    console.Write(io);
    var ops = new Table().AddColumns("operator", "count");
    foreach (var (op, count) in report.Operators) Row(ops, op, count.ToString());
    console.Write(ops);
    foreach (var (key, value) in report.Metadata) console.WriteLine($"{key} = {value}");
    return 0;
});
root.Subcommands.Add(inspect);

// Cells are plain text: shapes such as "[batch_size, 12]" must not be read as markup.
static void Row(Table table, params string[] cells) =>
    table.AddRow(cells.Select(c => (Spectre.Console.Rendering.IRenderable)new Text(c)).ToArray());
return CliHost.Run(root, args);
