namespace Ingest.UnitTests.Fuzz;

/// <summary>The fuzz tests of one CI run, together, reach the case count issue 12 asks for.</summary>
public sealed class FuzzBudgetTests
{
    [Fact]
    public void CiRun_FuzzTestsTogether_RunAtLeast100000Cases()
    {
        var total = ((long)SessionFuzzTests.CiSeeds.Length * SessionFuzzTests.CiCasesPerSeed) + ((long)FrameFuzzTests.CiSeeds.Length * FrameFuzzTests.CiCasesPerSeed);

        Assert.True(total >= FuzzBudget.CiMinimumCases, $"the CI seeds and case budgets of the fuzz tests add up to {total} cases, fewer than {FuzzBudget.CiMinimumCases}");
    }
}
