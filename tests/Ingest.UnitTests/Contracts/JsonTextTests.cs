using System.Text;
using Ingest.Contracts;

namespace Ingest.UnitTests.Contracts;

public sealed class JsonTextTests
{
    [Theory]
    [InlineData("{}", true)]
    [InlineData("  {\"a\":[1,2,{\"b\":null}]}\n", true)]
    [InlineData("\"text\"", true)]
    [InlineData("12", true)]
    [InlineData("{} {}", false)]
    [InlineData("{", false)]
    [InlineData("", false)]
    [InlineData("nul", false)]
    public void IsSingleValue(string value, bool expected)
    {
        Assert.Equal(expected, JsonText.IsSingleValue(Encoding.UTF8.GetBytes(value)));
    }

    [Fact]
    public void IsSingleValue_InvalidUtf8InAString_IsFalse() =>
        Assert.False(JsonText.IsSingleValue([(byte)'"', 0xC3, 0x28, (byte)'"']));
}
