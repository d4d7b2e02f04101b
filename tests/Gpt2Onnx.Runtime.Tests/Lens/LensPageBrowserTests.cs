using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Lens;

/// <summary>
/// The lens page in a real browser: Debian's Chromium (installed by scripts/setup.sh), headless, loads the page
/// from disk with the network off; the DOM its script builds must hold the JSON's numbers, and its screenshot
/// must show a rendered page, not a blank one.
/// </summary>
public sealed partial class LensPageBrowserTests(LensModels models) : IClassFixture<LensModels>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<(int ExitCode, string Stdout, string Stderr)> Chromium(string profile,
                                                                            params string[] arguments)
    {
        const string chromium = "/usr/bin/chromium";
        Assert.True(File.Exists(chromium), "Chromium is missing: run scripts/setup.sh, which installs it");
        return CliProcess.RunProgramAsync(chromium, null,
            ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", $"--user-data-dir={profile}",
             "--proxy-server=127.0.0.1:9", .. arguments]);
    }

    /// <summary>Writes the page and its JSON through gpt2-run lens.</summary>
    private async Task<(string Page, JsonNode Json)> WriteLens()
    {
        string page = Path.Combine(_dir, "lens.html");
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync(
            "gpt2-run", "lens", "--model", models.WithHiddenStates, "--prompt", "the quick brown fox", "--generate",
            "3",
            "--compare", "the", "o", "--out", page, "--json");
        Assert.True(exitCode == 0, stderr);
        return (page, JsonNode.Parse(stdout)!);
    }

    [Fact]
    public async Task The_page_rendered_in_Chromium_holds_the_jsons_ranks_and_probabilities()
    {
        var (page, json) = await WriteLens();
        string profile = Path.Combine(_dir, "profile");
        var (exitCode, dom, stderr) = await Chromium(profile, "--dump-dom", new Uri(page).AbsoluteUri);
        Assert.True(exitCode == 0, stderr);
        var ranks = json["chosen_rank"]!.AsArray();
        var cells = HeatmapCell().Matches(dom).ToDictionary(Key,
                                                           m => int.Parse(m.Groups[3].Value));
        int layers = ranks.Count, positions = ranks[0]!.AsArray().Count;
        Assert.Equal(layers * positions, cells.Count);
        for (int layer = 0; layer < layers; layer++)
            for (int t = 0; t < positions; t++) Assert.Equal((int)ranks[layer]![t]!, cells[(layer, t)]);
        // The top candidates shown are those of the last position, selected when the page opens.
        var top = TopCell().Matches(dom).ToDictionary(Key,
                                                     m => (Id: int.Parse(m.Groups[3].Value),
                                                           P: Parse(m.Groups[4].Value)));
        for (int layer = 0; layer < layers; layer++)
        {
            var expected = json["top"]![layer]![positions - 1]!.AsArray();
            for (int k = 0; k < expected.Count; k++)
            {
                Assert.Equal((int)expected[k]!["id"]!, top[(layer, k)].Id);
                Assert.Equal((double)expected[k]!["probability"]!, top[(layer, k)].P);
            }
        }
        var compared = CompareCell().Matches(dom).ToDictionary(Key,
                                                               m => int.Parse(m.Groups[3].Value));
        for (int c = 0; c < 2; c++)
            for (int layer = 0; layer < layers; layer++)
                Assert.Equal((int)json["compare"]![c]!["rank"]![layer]![positions - 1]!, compared[(c, layer)]);
    }

    [Fact]
    public async Task Chromiums_screenshot_of_the_page_is_not_blank()
    {
        var (page, _) = await WriteLens();
        string shot = Path.Combine(_dir, "lens.png");
        var (exitCode, _, stderr) = await Chromium(Path.Combine(_dir, "profile-shot"), "--window-size=1000,700",
                                                   $"--screenshot={shot}", new Uri(page).AbsoluteUri);
        Assert.True(exitCode == 0 && File.Exists(shot), stderr);
        var (width, height, pixels) = PngPixels.Read(shot);
        Assert.Equal((1000, 700), (width, height));
        // The background's colour, and how much of the picture is something else: text, table lines, heatmap cells.
        uint background = pixels.GroupBy(p => p).MaxBy(g => g.Count())!.Key;
        double drawn = pixels.Count(p => p != background) / (double)pixels.Length;
        Assert.True(drawn > 0.05, $"only {drawn:P1} of the screenshot differs from its background");
        Assert.True(pixels.Distinct().Count() > 50, "the screenshot has too few colours to hold text and a heatmap");
    }

    private static (int, int) Key(Match m) => (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value));

    private static double Parse(string number) => double.Parse(number, CultureInfo.InvariantCulture);

    [GeneratedRegex("<td class=\"cell[^\"]*\" data-layer=\"(\\d+)\" data-position=\"(\\d+)\" data-rank=\"(\\d+)\"")]
    private static partial Regex HeatmapCell();

    [GeneratedRegex("<td data-layer=\"(\\d+)\" data-k=\"(\\d+)\" data-id=\"(\\d+)\" data-probability=\"([^\"]+)\"")]
    private static partial Regex TopCell();

    [GeneratedRegex("<td data-compare=\"(\\d+)\" data-layer=\"(\\d+)\" data-rank=\"(\\d+)\"")]
    private static partial Regex CompareCell();
}
