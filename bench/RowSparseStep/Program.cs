using System.Diagnostics;
using TorchSharp.Modules;
using UltraMem.Layers.Memory;
using UltraMem.Training;
using static TorchSharp.torch;

// Optimizer cost of one step on an N×D table with U distinct rows selected, dense AdamW vs row-sparse (lazy) AdamW.
// Usage: dotnet run -c Release --project bench/RowSparseStep -- N D U   (set THP_MEM_ALLOC_ENABLE and GLIBC_TUNABLES, see docs/platform.md)
// Dense: the gradient is a dense N×D tensor holding U non-zero rows (as backward leaves it); timed: Step + ZeroGrad.
// Row-sparse: the U rows' gradient sits on a gathered copy; timed: Step (coalesce + lazy update) + ZeroGrad.
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: RowSparseStep N D U");
    return 2;
}
long n = long.Parse(args[0]);
int d = int.Parse(args[1]);
int u = int.Parse(args[2]);
const int warmup = 3,
    iters = 15;
set_num_threads(Environment.ProcessorCount);
manual_seed(1);
var rng = new Random(1);
Tensor Rows() => tensor(Enumerable.Range(0, u * 2).Select(_ => rng.NextInt64(n)).Distinct().Take(u).OrderBy(x => x).ToArray());
static double Median(List<double> xs)
{
    xs.Sort();
    return xs[xs.Count / 2];
}

foreach (bool sparse in new[] { false, true })
{
    using var scope = NewDisposeScope();
    var table = new Parameter(randn(n, d) * 0.02, requires_grad: true);
    var rows = new RowSparseGradient(table) { Enabled = sparse };
    var group = new ParameterGroup
    {
        Name = "values",
        Parameters = new[] { ("values", table) },
        WeightDecay = 0.1,
    };
    using var opt = new UltraMem.Training.AdamW(new[] { group }, rowSparse: new[] { ("values", rows) });
    var times = new List<double>();
    for (int it = 0; it < warmup + iters; it++)
    {
        using var step = NewDisposeScope();
        var selected = Rows();
        var grad = randn(selected.shape[0], d);
        if (sparse)
            rows.Gather(selected).grad = grad;
        else
            using (no_grad())
            {
                if (table.grad is null)
                    table.grad = zeros(n, d);
                table.grad!.index_add_(0, selected, grad, 1.0);
            }
        var sw = Stopwatch.StartNew();
        opt.Step(1e-3);
        opt.ZeroGrad();
        if (it >= warmup)
            times.Add(sw.Elapsed.TotalMilliseconds);
    }
    Console.WriteLine(
        $"{(sparse ? "row_sparse" : "dense"), -10} N={n} D={d} U={u}: optimizer step + zero_grad, median of {iters}: {Median(times):F1} ms"
    );
    if (!sparse)
    {
        // the floor of the dense step: it must read p, g, m, v and write p, m, v (7 floats per parameter), and zero_grad
        // writes g (1 more); measured here as the time of an in-place a += b over two tables of this size (3 floats)
        using var a = zeros(n, d);
        using var b = ones(n, d);
        var reference = new List<double>();
        for (int it = 0; it < warmup + iters; it++)
        {
            var sw = Stopwatch.StartNew();
            a.add_(b);
            if (it >= warmup)
                reference.Add(sw.Elapsed.TotalMilliseconds);
        }
        double msPerFloat = Median(reference) / 3;
        Console.WriteLine(
            $"{"", -10} floor: a += b over {n}x{d} took {Median(reference):F1} ms (3 floats a parameter, "
                + $"{3.0 * 4 * n * d / (Median(reference) / 1e3) / 1e9:F0} GB/s); 8 floats a parameter at that rate: {8 * msPerFloat:F1} ms, "
                + $"so the step is {Median(times) / (8 * msPerFloat):F2}x its floor"
        );
    }
}
return 0;
