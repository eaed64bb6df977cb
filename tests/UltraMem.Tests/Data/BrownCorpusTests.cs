using System.Text.RegularExpressions;
using UltraMem.Data;

namespace UltraMem.Tests.Data;

public class BrownCorpusTests
{
    static readonly IReadOnlyList<Document> Docs = Corpus.Load("brown", "", null);

    [Fact]
    public void HasTheFiveHundredSamplesInIdOrder()
    {
        Assert.Equal(500, Docs.Count);
        Assert.Equal("ca01", Docs[0].Id);
        Assert.Equal("cr09", Docs[^1].Id);
        Assert.Equal(Docs.Select(d => d.Id).Order(StringComparer.Ordinal), Docs.Select(d => d.Id));
        Assert.All(Docs, d => Assert.Matches("^c[a-r][0-9]{2}$", d.Id));
        Assert.Equal(500, Docs.Select(d => d.Id).Distinct().Count());
    }

    [Fact]
    public void IsRunningEnglishOfAboutAMillionWords()
    {
        var words = Docs.SelectMany(d => d.Text.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.InRange(words.Count, 1_000_000, 1_100_000);
        // "the" is about 6% of the words of edited English prose (Kučera & Francis: 69,971 of 1,014,312).
        double the = words.Count(w => w.Equals("the", StringComparison.OrdinalIgnoreCase)) / (double)words.Count;
        Assert.InRange(the, 0.055, 0.075);
        Assert.StartsWith(
            "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced \"no evidence\" that any irregularities took place.\n\n",
            Docs[0].Text
        );
        Assert.All(Docs, d => Assert.Contains("\n\n", d.Text));
    }

    [Fact]
    public void HasNoTagResidueOrTokenisationArtefacts()
    {
        // word/tag with the commonest Brown tags ("/l/ and /r/", "lb/day", "and/or" are genuine text).
        var tag = new Regex(
            @"\w/(at|nn|nns|np|in|jj|vb|vbd|vbz|vbn|vbg|rb|cc|cs|cd|pps|ppss|ppo|dt|md|to|ql|wdt|ap|be|bez|hv|hvd)(-tl|-hl|-nc)?(?=[\s,.;:!?)""]|$)"
        );
        var slashWords = new Regex(@"/[a-z]{2,}");
        int slashCount = 0;
        foreach (var d in Docs)
        {
            Assert.DoesNotMatch(tag, d.Text);
            slashCount += slashWords.Matches(d.Text).Count; // genuine words like "and/or", "lb/day"
            Assert.DoesNotContain("``", d.Text);
            Assert.DoesNotContain(",/,", d.Text);
            Assert.DoesNotMatch("(?<![0-9])''", d.Text); // 1/2'' (inches) is genuine
            Assert.DoesNotContain(" ,", d.Text);
            Assert.DoesNotContain(" .", d.Text);
            Assert.DoesNotContain("??", d.Text);
            Assert.DoesNotContain(";;", d.Text);
        }
        Assert.InRange(slashCount, 0, 100);
    }
}
