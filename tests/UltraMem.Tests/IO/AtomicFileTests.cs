using System.Text;
using UltraMem.IO;

namespace UltraMem.Tests.IO;

public class AtomicFileTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void WriterThrowingMidwayLeavesOldFileIntactAndNoTempFile()
    {
        string path = _dir.File("state.bin");
        File.WriteAllBytes(path, [1, 2, 3]);
        var ex = Assert.Throws<InvalidOperationException>(() =>
            AtomicFile.Write(
                path,
                s =>
                {
                    s.Write(new byte[100_000]); // more than the stream buffer, so part of it reached the temp file
                    throw new InvalidOperationException("boom");
                }
            )
        );
        Assert.Equal("boom", ex.Message);
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        Assert.Equal(["state.bin"], _dir.Entries());
    }

    [Fact]
    public void WriterThrowingWithoutDestinationCreatesNothing()
    {
        string path = _dir.File("new.bin");
        Assert.Throws<IOException>(() =>
            AtomicFile.Write(
                path,
                s =>
                {
                    s.WriteByte(7);
                    throw new IOException("disk full");
                }
            )
        );
        Assert.Empty(_dir.Entries());
    }

    [Fact]
    public void SuccessfulWriteReplacesContentAndLeavesOnlyTheDestination()
    {
        string path = _dir.File("state.bin");
        File.WriteAllBytes(path, new byte[1000]);
        AtomicFile.Write(path, s => s.Write([9, 8, 7]));
        Assert.Equal(new byte[] { 9, 8, 7 }, File.ReadAllBytes(path));
        Assert.Equal(["state.bin"], _dir.Entries());
    }

    [Fact]
    public void ConveniencesWriteExactBytes()
    {
        string text = _dir.File("a.txt"),
            bytes = _dir.File("b.bin");
        AtomicFile.WriteAllText(text, "héllo\n");
        AtomicFile.WriteAllBytes(bytes, [0, 255, 16]);
        Assert.Equal(new byte[] { (byte)'h', 0xC3, 0xA9, (byte)'l', (byte)'l', (byte)'o', (byte)'\n' }, File.ReadAllBytes(text)); // UTF-8, no BOM
        Assert.Equal(new byte[] { 0, 255, 16 }, File.ReadAllBytes(bytes));
        AtomicFile.WriteAllText(text, "");
        Assert.Empty(File.ReadAllBytes(text));
        Assert.Equal(2, _dir.Entries().Length);
    }

    [Fact]
    public void RelativePathIsResolvedAgainstTheCurrentDirectory()
    {
        string old = Environment.CurrentDirectory;
        try
        {
            Environment.CurrentDirectory = _dir.Path;
            AtomicFile.WriteAllText("rel.txt", "x");
            Assert.Equal("x", Encoding.UTF8.GetString(File.ReadAllBytes(_dir.File("rel.txt"))));
        }
        finally
        {
            Environment.CurrentDirectory = old;
        }
    }
}
