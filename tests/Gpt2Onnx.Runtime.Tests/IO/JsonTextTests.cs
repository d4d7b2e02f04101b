using System.Text;
using System.Text.Json;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Runtime.Tests.IO;

public class JsonTextTests
{
    private static string Problem(string json) =>
        JsonText.Describe(Assert.ThrowsAny<JsonException>(() => JsonText.Parse(Encoding.UTF8.GetBytes(json))));

    [Fact]
    public void A_property_given_twice_in_one_object_is_refused_with_where()
    {
        Assert.Equal("the property \"a\" is given twice at line 2, byte 2", Problem("{\"a\": 1,\n \"a\": 2}"));
        Assert.Equal("the property \"k\" is given twice at line 1, byte 27",
                     Problem("[{\"k\": 1}, {\"k\": {\"k\": 2, \"k\": 3}}]"));
        // A name is quoted escaped and cut short, so the error stays one short line.
        string name = "line\n" + new string('x', 1000);
        Assert.Equal("the property \"line\\n" + new string('x', 52) + "… is given twice at line 1, byte 1015",
                     Problem($"{{\"{name.Replace("\n", "\\n")}\": 1, \"{name.Replace("\n", "\\n")}\": 2}}"));
        // The same name in different objects is fine.
        Assert.NotNull(JsonText.Parse("[{\"k\": 1}, {\"k\": {\"k\": 2}}]"u8));
    }

    [Theory]
    [InlineData("{\"a\": \"\\ud800\"}")]
    [InlineData("{\"\\udc00\": 1}")]
    [InlineData("[\"\\ud800\\u0041\"]")]
    public void A_string_escaping_half_a_surrogate_pair_is_refused(string json) =>
        Assert.StartsWith("a string is not text", Problem(json));

    [Fact]
    public void Bytes_that_are_not_UTF8_in_a_string_are_refused()
    {
        byte[] json = [.. "{\"a\": \""u8, 0xFF, .. "\"}"u8];
        Assert.StartsWith("a string is not text",
                          JsonText.Describe(Assert.ThrowsAny<JsonException>(() => JsonText.Parse(json))));
    }

    [Fact]
    public void A_byte_order_mark_is_skipped_and_a_whole_surrogate_pair_is_text()
    {
        byte[] json = [0xEF, 0xBB, 0xBF, .. "{\"a\": \"\\ud83d\\ude00\"}"u8];
        Assert.Equal("😀", JsonText.Parse(json)!["a"]!.GetValue<string>());
    }

    [Fact]
    public void Syntax_errors_give_only_where_not_the_parser_quoting_the_file() =>
        Assert.Equal("line 1, byte 10", Problem("{\"a\": tru"));
}
