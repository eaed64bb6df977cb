using UltraMem.Data;

namespace UltraMem.Tests.Data;

public class DocumentSplitTests
{
    static List<Document> Synthetic(int n) => Enumerable.Range(0, n).Select(i => new Document($"doc-{i}", $"text {i}")).ToList();

    [Fact]
    public void IsDeterministicDisjointCompleteAndOrderPreserving()
    {
        var docs = Synthetic(2000);
        var (train, val) = DocumentSplit.Split(docs, 0.1, seed: 3);
        var (train2, val2) = DocumentSplit.Split(docs, 0.1, seed: 3);
        Assert.Equal(train, train2);
        Assert.Equal(val, val2);
        Assert.Empty(train.Select(d => d.Id).Intersect(val.Select(d => d.Id)));
        Assert.Equal(docs.Count, train.Count + val.Count);
        Assert.Equal(docs.Select(d => d.Id).Order(), train.Concat(val).Select(d => d.Id).Order());
        Assert.Equal(train.OrderBy(d => docs.IndexOf(d)), train);
        Assert.Equal(val.OrderBy(d => docs.IndexOf(d)), val);
        // Binomial(2000, 0.1): mean 200, sd 13.4.
        Assert.InRange(val.Count, 150, 250);
    }

    [Fact]
    public void EachDocumentsSideDependsOnlyOnItsIdAndTheSeed()
    {
        var docs = Synthetic(1000);
        var (_, val) = DocumentSplit.Split(docs, 0.2);
        var reversed = Enumerable.Reverse(docs).ToList();
        var (_, valOfReversed) = DocumentSplit.Split(reversed, 0.2);
        Assert.Equal(val.Select(d => d.Id).Order(), valOfReversed.Select(d => d.Id).Order());
        var (_, valOfHalf) = DocumentSplit.Split(docs.Take(500).ToList(), 0.2);
        Assert.Equal(val.Where(d => docs.IndexOf(d) < 500), valOfHalf);
        var (_, otherSeed) = DocumentSplit.Split(docs, 0.2, seed: 1);
        Assert.NotEqual(val, otherSeed);
    }

    [Fact]
    public void BrownSplitsNearTheRequestedFraction()
    {
        var docs = Corpus.Load("brown", "");
        var (train, val) = DocumentSplit.Split(docs);
        Assert.Equal(500, train.Count + val.Count);
        Assert.InRange(val.Count, 12, 40); // 5% of 500 = 25
    }

    [Fact]
    public void BothSidesAreNonEmptyFromTwoDocuments()
    {
        var two = Synthetic(2);
        var (train, val) = DocumentSplit.Split(two, 1e-12);
        Assert.Single(train);
        Assert.Single(val);
        (train, val) = DocumentSplit.Split(Synthetic(3), 1 - 1e-12);
        Assert.Single(train);
        Assert.Equal(2, val.Count);
        (train, val) = DocumentSplit.Split(Synthetic(1), 0.5);
        Assert.Single(train);
        Assert.Empty(val);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void RejectsFractionsOutsideTheOpenUnitInterval(double fraction) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => DocumentSplit.Split(Synthetic(10), fraction));
}
