using System.Text.RegularExpressions;
using UltraMem.Data.Tasks;

namespace UltraMem.Tests.Data;

/// <summary>
/// The task generators against independent solvers: each solver reads only the prompt text (as a model would) and must arrive
/// at the generated answer, for many seeds and indices; the streams are deterministic per (seed, index).
/// </summary>
public class SyntheticTaskTests
{
    static readonly string[] Filler =
    {
        "The jury said it did find that many of the voters were confused.",
        "It was a long day at the office.",
        "The rain fell on the quiet town.",
        "He read the letter twice before he answered.",
    };

    public static TheoryData<string> Names => new("kv_retrieval", "multi_hop", "multi_round", "in_context", "needle", "knowledge");

    static SyntheticTask Make(string name) =>
        name switch
        {
            "kv_retrieval" => new KeyValueRetrievalTask(12),
            "multi_hop" => new MultiHopTask(10, 3),
            "multi_round" => new MultiRoundTask(6, 8),
            "in_context" => new FewShotFunctionTask(4),
            "needle" => new NeedleTask(Filler, 9),
            "knowledge" => new KnowledgeTask(50, 7),
            _ => throw new ArgumentException(name),
        };

    static Dictionary<string, string> Pairs(string list, char sep) =>
        list.Split("; ").Select(p => p.Split(sep)).ToDictionary(p => p[0], p => p[1]);

    /// <summary>Reads the prompt and answers it, without the generator's state.</summary>
    static string Solve(string name, string prompt, KnowledgeTask kb)
    {
        if (name == "knowledge")
        {
            var k = Regex.Match(prompt, @"^(\w+) (\w+) =$");
            return " "
                + Enumerable
                    .Range(0, kb.Facts)
                    .Select(kb.Fact)
                    .Single(f => f.Entity == k.Groups[1].Value && f.Attribute == k.Groups[2].Value)
                    .Value;
        }
        var m = Regex.Match(prompt, @"^(?<context>.*) \| (?<question>.*)$");
        Assert.True(m.Success, prompt);
        string context = m.Groups["context"].Value,
            question = m.Groups["question"].Value;
        switch (name)
        {
            case "kv_retrieval":
                return " " + Pairs(context["kv: ".Length..], '=')[Regex.Match(question, @"^get (\w+) =$").Groups[1].Value];
            case "multi_hop":
            {
                var next = Pairs(context["links: ".Length..], '>');
                var q = Regex.Match(question, @"^from (\w+) (\d+) hops >$");
                string at = q.Groups[1].Value;
                for (int h = int.Parse(q.Groups[2].Value); h > 0; h--)
                    at = next[at];
                return " " + at;
            }
            case "multi_round":
            {
                var latest = new Dictionary<string, string>();
                foreach (var part in context.Split("; "))
                {
                    var p = Regex.Match(part, @"^(set|now) (\w+)=(\d+)$");
                    latest[p.Groups[2].Value] = p.Groups[3].Value;
                }
                return " " + latest[Regex.Match(question, @"^get (\w+) =$").Groups[1].Value];
            }
            case "in_context":
            {
                var shots = context["f: ".Length..]
                    .Split("; ")
                    .Select(s => s.Split('>'))
                    .Select(p => (X: int.Parse(p[0]), Y: int.Parse(p[1])))
                    .ToList();
                int x = int.Parse(question.TrimEnd('>'));
                // brute force over the family's 40 maps (a odd and not 5, any b): the shots must pin the answer down
                var answers = new HashSet<int>();
                for (int a = 0; a < 10; a++)
                for (int b = 0; b < 10; b++)
                    if (a % 2 == 1 && a != 5 && shots.All(s => (a * s.X + b) % 10 == s.Y))
                        answers.Add((a * x + b) % 10);
                return " " + Assert.Single(answers);
            }
            case "needle":
            {
                string who = Regex.Match(question, @"^code of (\w+) =$").Groups[1].Value;
                return " " + Regex.Match(context, $@"The code of {who} is (\d+)\.").Groups[1].Value;
            }
            default:
                throw new ArgumentException(name);
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void EveryAnswerIsTheOneAnIndependentSolverReadsFromThePrompt(string name)
    {
        var task = Make(name);
        var kb = new KnowledgeTask(50, 7);
        for (ulong seed = 1; seed <= 3; seed++)
        for (long i = 0; i < 200; i++)
        {
            var e = task.Example(seed, i);
            Assert.Equal(Solve(name, e.Prompt, kb), e.Answer);
            Assert.StartsWith(" ", e.Answer);
            Assert.Equal(e.Prompt + e.Answer + "\n", e.Text);
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void StreamsAreDeterministicPerSeedAndDifferAcrossSeeds(string name)
    {
        var a = Enumerable.Range(0, 50).Select(i => Make(name).Example(11, i)).ToList();
        var b = Enumerable.Range(0, 50).Select(i => Make(name).Example(11, i)).ToList();
        var c = Enumerable.Range(0, 50).Select(i => Make(name).Example(12, i)).ToList();
        Assert.Equal(a, b);
        Assert.NotEqual(a.Select(e => e.Text), c.Select(e => e.Text));
        Assert.True(a.Select(e => e.Text).Distinct().Count() > (name == "knowledge" ? 30 : 45), "examples should vary within a stream");
    }

    [Fact]
    public void TheKnowledgeBaseIsFixedByItsSeedAndItsEntitiesAreDistinct()
    {
        var kb = new KnowledgeTask(2000, 3);
        var facts = Enumerable.Range(0, kb.Facts).Select(kb.Fact).ToList();
        Assert.Equal(2000, facts.Select(f => f.Entity).Distinct().Count());
        Assert.Equal(facts, Enumerable.Range(0, kb.Facts).Select(new KnowledgeTask(2000, 3).Fact).ToList());
        Assert.NotEqual(facts, Enumerable.Range(0, kb.Facts).Select(new KnowledgeTask(2000, 4).Fact).ToList());
        // every seed's examples ask facts of the same base
        var seen = facts.Select(f => $"{f.Entity} {f.Attribute} = {f.Value}").ToHashSet();
        for (long i = 0; i < 100; i++)
        {
            var e = kb.Example(99, i);
            Assert.Contains(e.Prompt + e.Answer, seen);
        }
    }

    [Fact]
    public void TheNeedleSitsWhereItIsAskedToAndMultiHopChainsAreUnique()
    {
        var first = new NeedleTask(Filler, 8, Depth: 0).Example(1, 0);
        var last = new NeedleTask(Filler, 8, Depth: 1).Example(1, 0);
        Assert.StartsWith("The code of ", first.Prompt);
        Assert.Matches(@"The code of \w+ is \d+\. \| code of", last.Prompt);
        var e = new MultiHopTask(6, 6).Example(5, 3); // the chain is all the links
        Assert.Equal(6, Regex.Matches(e.Prompt, ">").Count - 1);
        Assert.Throws<UltraMemException>(() => new MultiHopTask(2, 3).Example(1, 0));
    }
}
