using UltraMem.Reporting;

namespace UltraMem.Tests.Reporting;

public class MetricsLogTests
{
    [Fact]
    public void TruncationKeepsTheOriginalLinesAndReplacesEachFileWhole()
    {
        string dir = TestData.TempDir();
        var log = new MetricsLog(dir);
        for (int step = 1; step <= 4; step++)
        {
            log.Append(
                new MetricRecord(step, "train", new Dictionary<string, double> { ["loss"] = 1.0 / step, ["grad_norm"] = double.NaN })
            );
            log.Append(new MetricRecord(step, "mem_train", new Dictionary<string, double> { ["coverage"] = 0.5 }));
        }
        var before = File.ReadAllLines(log.JsonlPath);
        log.TruncateAfter(2);
        Assert.Equal(before.Take(4), File.ReadAllLines(log.JsonlPath)); // byte-for-byte, the NaN grad_norm included
        Assert.Contains("\"grad_norm\":\"NaN\"", File.ReadAllText(log.JsonlPath));
        var csv = File.ReadAllLines(log.CsvPath);
        Assert.Equal(3, csv.Length); // header + steps 1 and 2
        Assert.StartsWith("step,split,loss", csv[0]);
        Assert.DoesNotContain(Directory.GetFiles(dir), f => f.Contains(".tmp")); // nothing left beside them
        var stamp = File.GetLastWriteTimeUtc(log.JsonlPath);
        Thread.Sleep(20);
        log.TruncateAfter(2); // nothing past step 2: the files are not rewritten
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(log.JsonlPath));
    }
}
