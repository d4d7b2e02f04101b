using System.CommandLine;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation.Beams;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary>
/// The beam search options of <c>gpt2-run generate</c>, with Hugging Face's names and meanings. Kept apart from
/// <see cref="Gpt2Onnx.Cli.SamplingFlags"/>, which the trainer's sampler shares and which has no beam search.
/// </summary>
internal sealed class BeamFlags
{
    public Option<int> NumBeams { get; } = new("--num-beams")
    {
        Description = "beam search with this many beams (run as one batch); 0 samples or decodes greedily instead",
        DefaultValueFactory = _ => 0,
    };
    public Option<double> LengthPenalty { get; } = new("--length-penalty")
    {
        Description = "a finished beam scores its summed log-probability / new tokens^this (above 0 favours longer)",
        DefaultValueFactory = _ => 1.0,
    };
    public Option<string> EarlyStopping { get; } = new("--early-stopping")
    {
        Description = "true (stop when num-beams hypotheses ended), false (Hugging Face's heuristic) or never",
        DefaultValueFactory = _ => "false",
    };
    public Option<int> NoRepeatNgramSize { get; } = new("--no-repeat-ngram-size")
    {
        Description = "never repeat an n-gram of this size (prompt included); 0 is off",
        DefaultValueFactory = _ => 0,
    };
    public Option<int> NumReturnSequences { get; } = new("--num-return-sequences")
    {
        Description = "return this many of the best beams (at most --num-beams); --json lists them under sequences",
        DefaultValueFactory = _ => 1,
    };

    public void AddTo(Command command)
    {
        Option[] options = [NumBeams, LengthPenalty, EarlyStopping, NoRepeatNgramSize, NumReturnSequences];
        foreach (var option in options) command.Options.Add(option);
    }

    /// <summary>The options given, checked: a value out of range is one usage error naming its flag.</summary>
    public BeamSearchOptions Read(ParseResult parsed)
    {
        try
        {
            return new BeamSearchOptions
            {
                NumBeams = parsed.GetValue(NumBeams),
                LengthPenalty = parsed.GetValue(LengthPenalty),
                EarlyStopping = BeamSearchOptions.ParseEarlyStopping(parsed.GetValue(EarlyStopping)!),
                NoRepeatNgramSize = parsed.GetValue(NoRepeatNgramSize),
                NumReturnSequences = parsed.GetValue(NumReturnSequences),
            }.Validate();
        }
        catch (Gpt2OnnxException e)
        {
            throw new CliHost.BadUsageException(e.Message.Replace("num_beams", "--num-beams")
                .Replace("length_penalty", "--length-penalty").Replace("early_stopping", "--early-stopping")
                .Replace("no_repeat_ngram_size", "--no-repeat-ngram-size")
                .Replace("num_return_sequences", "--num-return-sequences"));
        }
    }
}
