using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Tests.Tokenizers;

public class TokenIdListTests
{
    [Theory]
    [InlineData("15496,995", new[] { 15496, 995 })]
    [InlineData(" 15496 , 995 ", new[] { 15496, 995 })]
    [InlineData("0", new[] { 0 })]
    [InlineData("2147483647", new[] { int.MaxValue })]
    [InlineData("", new int[0])]
    [InlineData("  ", new int[0])]
    public void Reads_ids_separated_by_commas(string text, int[] expected) =>
        Assert.Equal(expected, TokenIdList.Parse(text));

    [Theory]
    [InlineData("1,,2", "token id 2 of 3 is empty")]
    [InlineData("1,2,", "token id 3 of 3 is empty")]
    [InlineData(",1", "token id 1 of 2 is empty")]
    [InlineData("1,-2", "token id 2 of 2, '-2', is not a whole number")]
    [InlineData("+1", "token id 1 of 1, '+1', is not a whole number")]
    [InlineData("1.5", "token id 1 of 1, '1.5', is not a whole number")]
    [InlineData("1 2", "token id 1 of 1, '1 2', is not a whole number")]
    [InlineData("2147483648", "'2147483648', is not a whole number from 0 to 2147483647")]
    [InlineData("٣", "'٣', is not a whole number")] // an Arabic-Indic digit: a digit to .NET, not to a tokenizer
    public void Refuses_an_entry_that_is_not_an_id_and_names_it(string text, string message) =>
        Assert.Contains(message, Assert.Throws<Gpt2OnnxException>(() => TokenIdList.Parse(text)).Message);
}
