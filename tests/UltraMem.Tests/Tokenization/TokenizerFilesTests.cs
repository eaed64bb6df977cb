using System.Text.Json;
using UltraMem.Tokenization;

namespace UltraMem.Tests.Tokenization;

public sealed class TokenizerFilesTests : IDisposable
{
    static readonly Lazy<TextTokenizer> Small = new(() =>
        TextTokenizer.Train(TokenizerTestData.Corpus(seed: 8, documents: 10, sentencesPerDocument: 10), vocabSize: 300)
    );
    readonly string _directory = Path.Combine(Path.GetTempPath(), "ultramem-tokfiles-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    string VocabPath => Path.Combine(_directory, "vocab.json");
    string MergesPath => Path.Combine(_directory, "merges.txt");

    /// <summary>Saves the small tokenizer, lets <paramref name="edit"/> damage it, and returns Load's error.</summary>
    UltraMemException LoadError(Action edit)
    {
        Small.Value.Save(_directory);
        edit();
        return Assert.Throws<UltraMemException>(() => TextTokenizer.Load(_directory));
    }

    /// <summary>Rewrites vocab.json from an edited token → id table.</summary>
    void EditVocab(Action<Dictionary<string, JsonElement>> edit)
    {
        var table = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllBytes(VocabPath))!;
        edit(table);
        File.WriteAllText(VocabPath, JsonSerializer.Serialize(table));
    }

    static JsonElement Number(string raw) => JsonDocument.Parse(raw).RootElement.Clone();

    [Fact]
    public void MissingDirectory()
    {
        var error = Assert.Throws<UltraMemException>(() => TextTokenizer.Load(_directory));
        Assert.Contains(_directory, error.Message);
        Assert.Contains("does not exist", error.Message);
    }

    [Fact]
    public void MissingVocab()
    {
        var error = LoadError(() => File.Delete(VocabPath));
        Assert.Contains(VocabPath, error.Message);
        Assert.Contains("missing", error.Message);
    }

    [Fact]
    public void MissingMerges()
    {
        var error = LoadError(() => File.Delete(MergesPath));
        Assert.Contains(MergesPath, error.Message);
        Assert.Contains("missing", error.Message);
    }

    [Fact]
    public void InvalidJson()
    {
        var error = LoadError(() => File.WriteAllText(VocabPath, File.ReadAllText(VocabPath)[..500]));
        Assert.Contains(VocabPath, error.Message);
        Assert.Contains("not valid JSON", error.Message);
        Assert.IsAssignableFrom<JsonException>(error.InnerException);
    }

    [Fact]
    public void JsonThatIsNotAnObject()
    {
        var error = LoadError(() => File.WriteAllText(VocabPath, "[1, 2, 3]"));
        Assert.Contains("must hold a JSON object", error.Message);
    }

    [Fact]
    public void NonIntegerId()
    {
        var error = LoadError(() => EditVocab(t => t["Ġ"] = Number("32.5")));
        Assert.Contains(VocabPath, error.Message);
        Assert.Contains("'Ġ' has id 32.5, which is not an integer", error.Message);
    }

    [Fact]
    public void DuplicateToken()
    {
        var error = LoadError(() => File.WriteAllText(VocabPath, File.ReadAllText(VocabPath).Replace("{\n", "{\n  \"a\": 97,\n")));
        Assert.Contains("'a' appears twice", error.Message);
    }

    [Fact]
    public void IdsWithAGap()
    {
        var error = LoadError(() => EditVocab(t => t["<|endoftext|>"] = Number("5000")));
        Assert.Contains(VocabPath, error.Message);
        Assert.Contains("contiguous 0..299", error.Message);
        Assert.Contains("5000", error.Message);
    }

    [Fact]
    public void TwoTokensWithOneId()
    {
        var error = LoadError(() => EditVocab(t => t["<|endoftext|>"] = Number("0")));
        Assert.Contains("contiguous", error.Message);
        Assert.Contains("id 0 is used by both", error.Message);
    }

    [Fact]
    public void MissingEndOfText()
    {
        var error = LoadError(() =>
            EditVocab(t =>
            {
                int id = t["<|endoftext|>"].GetInt32();
                t.Remove("<|endoftext|>");
                t["<|other|>"] = Number(id.ToString());
            })
        );
        Assert.Contains(VocabPath, error.Message);
        Assert.Contains("no '<|endoftext|>' token", error.Message);
    }

    [Fact]
    public void MergeOfUnknownToken()
    {
        var error = LoadError(() => File.AppendAllText(MergesPath, "Ġthe zzzq\n"));
        Assert.Contains(MergesPath, error.Message);
        Assert.Contains($"line {Small.Value.Model.Merges.Count + 2}", error.Message);
        Assert.Contains("'zzzq'", error.Message);
        Assert.Contains("not in vocab.json", error.Message);
    }

    [Fact]
    public void MergeWhoseResultIsNotInVocab()
    {
        var error = LoadError(() => File.AppendAllText(MergesPath, "q q\n"));
        Assert.Contains(MergesPath, error.Message);
        Assert.Contains("token 'qq'", error.Message);
    }

    [Fact]
    public void MalformedMergeLine()
    {
        var error = LoadError(() => File.AppendAllText(MergesPath, "a b c\n"));
        Assert.Contains(MergesPath, error.Message);
        Assert.Contains("expected two tokens separated by one space", error.Message);
    }

    [Fact]
    public void RepeatedMerge()
    {
        var error = LoadError(() => File.AppendAllText(MergesPath, Small.Value.Model.Merges[0] + "\n"));
        Assert.Contains(MergesPath, error.Message);
        Assert.Contains("repeats line 2", error.Message);
    }

    [Fact]
    public void MissingByteSymbol()
    {
        // Rename the symbol of byte 0x00 (a byte no merge uses) so ids stay contiguous.
        var error = LoadError(() =>
            EditVocab(t =>
            {
                JsonElement id = t["Ā"];
                t.Remove("Ā");
                t["ĀĀ"] = id;
            })
        );
        Assert.Contains(VocabPath, error.Message);
        Assert.Contains("byte symbol 'Ā' (byte 0x00) is missing", error.Message);
    }

    [Fact]
    public void TokenOutsideTheByteAlphabet()
    {
        var error = LoadError(() =>
            EditVocab(t =>
            {
                JsonElement id = t["<|endoftext|>"];
                t.Remove("<|endoftext|>");
                t["hello world"] = id;
                t["<|endoftext|>"] = Number(t.Count.ToString());
            })
        );
        Assert.Contains(VocabPath, error.Message);
        Assert.Contains("U+0020", error.Message);
    }

    [Fact]
    public async Task SaveReplacesExistingFilesAtomically()
    {
        TextTokenizer big = TextTokenizer.Train(TokenizerTestData.Corpus(seed: 9, documents: 20, sentencesPerDocument: 20), vocabSize: 600);
        TextTokenizer small = Small.Value;
        small.Save(_directory);
        string[] complete = [File.ReadAllText(VocabPath), BpeModelFiles.FormatVocab(big.Model)];

        // A reader polling vocab.json while it is rewritten must only ever see one of the complete versions.
        using var stop = new CancellationTokenSource();
        int reads = 0;
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                string seen;
                try
                {
                    seen = File.ReadAllText(VocabPath);
                }
                catch (IOException)
                {
                    continue;
                }
                Assert.Contains(seen, complete);
                Interlocked.Increment(ref reads);
            }
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 40 || (Volatile.Read(ref reads) < 100 && clock.ElapsedMilliseconds < 5000); i++)
            (i % 2 == 0 ? big : small).Save(_directory);
        big.Save(_directory);
        stop.Cancel();
        await reader;

        Assert.True(reads > 0);
        Assert.Equal(big.Fingerprint, TextTokenizer.Load(_directory).Fingerprint);
        Assert.Equal(["merges.txt", "vocab.json"], Directory.GetFiles(_directory).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void FailedSaveLeavesOnlyCompleteFilesAndNoTemporaries()
    {
        Small.Value.Save(_directory);
        string oldVocab = File.ReadAllText(VocabPath);
        // merges.txt as a directory: renaming the staged merges file over it fails.
        File.Delete(MergesPath);
        Directory.CreateDirectory(MergesPath);
        TextTokenizer other = TextTokenizer.Train(["something else entirely, something else"], vocabSize: 280);
        Assert.ThrowsAny<IOException>(() => other.Save(_directory));
        Assert.Equal(["vocab.json"], Directory.GetFiles(_directory).Select(Path.GetFileName));
        Assert.Contains(File.ReadAllText(VocabPath), new[] { oldVocab, BpeModelFiles.FormatVocab(other.Model) });
    }
}
