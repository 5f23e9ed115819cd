using FiRST.Evaluation;
using FiRST.Evaluation.Tasks;
using Xunit;

// libtorch's random generator and thread count are process-wide: a test class seeding them while another
// trains in parallel changes that training's initial weights. The seeded-determinism tests (and the committed
// model's reproducibility they stand for) hold for one training at a time, so these classes run one by one.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
