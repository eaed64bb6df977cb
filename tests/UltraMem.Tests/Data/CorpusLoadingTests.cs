using UltraMem.Data;

namespace UltraMem.Tests.Data;

public class CorpusLoadingTests
{
    static string Paragraphs(int from, int count) =>
        string.Join("\n\n", Enumerable.Range(from, count).Select(i => $"Paragraph {i} line one.\nParagraph {i} line two."));

    [Fact]
    public void TextFileIsCutAtFormFeedLinesAndRunsOfThreeBlankLines()
    {
        using var tmp = new TempFolder();
        string path = tmp.Write("book.txt", "First doc.\r\n\r\nStill first.\n\f\nSecond doc.\n\n\n\nThird doc.\n \t\n\n\n  \f \nFourth.\n");
        var docs = Corpus.Load(path, tmp.Path);
        Assert.Equal(["book.txt#1", "book.txt#2", "book.txt#3", "book.txt#4"], docs.Select(d => d.Id));
        Assert.Equal(["First doc.\n\nStill first.", "Second doc.", "Third doc.", "Fourth."], docs.Select(d => d.Text));
    }

    [Fact]
    public void TextFileWithoutSeparatorsIsChunkedByParagraphs()
    {
        using var tmp = new TempFolder();
        string path = tmp.Write("plain.txt", Paragraphs(0, 45) + "\n");
        var docs = Corpus.Load(path, tmp.Path);
        Assert.Equal(3, docs.Count);
        Assert.Equal(Paragraphs(0, 20), docs[0].Text);
        Assert.Equal(Paragraphs(20, 20), docs[1].Text);
        Assert.Equal(Paragraphs(40, 5), docs[2].Text);

        string lines = tmp.Write("lines.txt", string.Join("\n", Enumerable.Range(0, 30).Select(i => $"sentence {i}")));
        var byLine = Corpus.Load(lines, tmp.Path);
        Assert.Equal(2, byLine.Count);
        Assert.Equal(string.Join("\n\n", Enumerable.Range(20, 10).Select(i => $"sentence {i}")), byLine[1].Text);
    }

    [Fact]
    public void GzippedFilesReadLikeThePlainOnes()
    {
        using var tmp = new TempFolder();
        string text = Paragraphs(0, 30);
        var plain = Corpus.Load(tmp.Write("a.txt", text), tmp.Path);
        var gz = Corpus.Load(tmp.WriteGz("a.txt.gz", text), tmp.Path);
        Assert.Equal(plain.Select(d => d.Text), gz.Select(d => d.Text));
        string jsonl = "{\"id\":\"x\",\"text\":\"one\"}\n{\"text\":\"two\"}\n";
        Assert.Equal(
            Corpus.Load(tmp.Write("d.jsonl", jsonl), tmp.Path).Select(d => d.Text),
            Corpus.Load(tmp.WriteGz("d.jsonl.gz", jsonl), tmp.Path).Select(d => d.Text)
        );
    }

    [Fact]
    public void ATruncatedGzipFileIsRefusedNotReadInPart()
    {
        using var tmp = new TempFolder();
        string full = tmp.WriteGz("a.txt.gz", Paragraphs(0, 300));
        var bytes = File.ReadAllBytes(full);
        string cut = tmp.File("cut.txt.gz");
        File.WriteAllBytes(cut, bytes[..(bytes.Length * 2 / 3)]); // decompresses fine up to the cut
        var e = Assert.Throws<UltraMemException>(() => Corpus.Load(cut, tmp.Path));
        Assert.Contains("trailer", e.Message);
        Assert.NotEmpty(Corpus.Load(full, tmp.Path));
    }

    [Fact]
    public void LinksToFoldersAreNotFollowed()
    {
        using var tmp = new TempFolder();
        tmp.Write("texts/a.txt", Paragraphs(0, 3));
        Directory.CreateSymbolicLink(tmp.File("texts/loop"), tmp.File("texts")); // texts/loop/loop/… would never end
        File.CreateSymbolicLink(tmp.File("texts/b.txt"), tmp.File("texts/a.txt")); // a linked file is read
        var docs = Corpus.Load(tmp.File("texts"), tmp.Path);
        Assert.Equal(new[] { "a.txt", "b.txt" }, docs.Select(d => d.Id));
    }

    [Fact]
    public void JsonlTakesIdsWhenGivenAndLineNumbersOtherwise()
    {
        using var tmp = new TempFolder();
        string path = tmp.Write(
            "c.jsonl",
            "{\"id\": \"alpha\", \"text\": \"A text.\"}\n\n{\"text\": \"B text.\", \"extra\": 1}\n{\"id\": 7, \"text\": \"C \\u00e9\"}\n{\"id\": \"blank\", \"text\": \"  \"}\n"
        );
        var docs = Corpus.Load(path, tmp.Path);
        Assert.Equal([new Document("alpha", "A text."), new Document("c.jsonl:3", "B text."), new Document("7", "C é")], docs);
    }

    [Theory]
    [InlineData("{\"text\": \"ok\"}\n{\"text\": \"ok\"}\n{\"text\": broken}\n", 3, "not valid JSON")]
    [InlineData("{\"text\": \"ok\"}\n{\"body\": \"no text\"}\n", 2, "missing string field \"text\"")]
    [InlineData("[1, 2]\n", 1, "expected a JSON object")]
    [InlineData("{\"text\": 5}\n", 1, "missing string field \"text\"")]
    [InlineData("{\"text\": \"ok\", \"id\": [1]}\n", 1, "\"id\" must be")]
    public void MalformedJsonlNamesTheFileAndLine(string content, int line, string problem)
    {
        using var tmp = new TempFolder();
        string path = tmp.Write("bad.jsonl", content);
        var e = Assert.Throws<UltraMemException>(() => Corpus.Load(path, tmp.Path));
        Assert.Contains($"bad.jsonl:{line}:", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void FolderIsReadRecursivelyInOrdinalPathOrder()
    {
        using var tmp = new TempFolder();
        tmp.Write("b.txt", "Bee.\n\n\n\nNot split in folders.");
        tmp.Write("notes.csv", "ignored");
        tmp.Write(".hidden/x.txt", "ignored");
        tmp.Write("a/z.md", "# Zed");
        tmp.WriteGz("c.txt.gz", "Sea.");
        tmp.Write("a/b.jsonl", "{\"text\": \"one\"}\n{\"id\": \"named\", \"text\": \"two\"}\n");
        tmp.Write("A/upper.txt", "Upper.");
        var docs = Corpus.Load(tmp.Path, tmp.Path);
        Assert.Equal(["A/upper.txt", "a/b.jsonl:1", "named", "a/z.md", "b.txt", "c.txt.gz"], docs.Select(d => d.Id));
        Assert.Equal("Bee.\n\n\n\nNot split in folders.", docs[4].Text);
        Assert.Equal(docs, Corpus.Load(tmp.Path + "/", tmp.Path));
    }

    [Fact]
    public void FailuresAreOneLineUltraMemExceptions()
    {
        using var tmp = new TempFolder();
        string Message(string source) => Assert.Throws<UltraMemException>(() => Corpus.Load(source, tmp.Path)).Message;

        Assert.Contains("not found", Message(tmp.File("missing.txt")));
        Assert.Contains("not found", Message("./nothing-here"));
        Assert.Contains("unknown corpus 'wikipedia'", Message("wikipedia"));
        Assert.Contains("empty", Message(tmp.Write("empty.txt", "\n \n")));
        Assert.Contains("empty", Message(tmp.Write("blank.jsonl", "{\"text\": \"\"}\n")));
        Directory.CreateDirectory(tmp.File("nothing"));
        Assert.Contains("empty", Message(tmp.File("nothing")));
        Assert.Contains("unsupported", Message(tmp.Write("table.csv", "a,b")));
        Assert.Contains("cannot read", Message(tmp.Write("fake.txt.gz", "not gzip at all")));
        Assert.Contains("no corpus", Message(" "));
    }

    [Fact]
    public void NamesAreCaseInsensitive()
    {
        Assert.Equal(["brown", "sotu", "moby-dick"], Corpus.Names);
        Assert.Equal(500, Corpus.Load("Brown", "").Count);
    }
}
