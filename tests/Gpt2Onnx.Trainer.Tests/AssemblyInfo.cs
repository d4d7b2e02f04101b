// libtorch's default random generator and its thread count are process-wide: a test that seeds it, draws
// from it (dropout, randn) or sets threads would disturb another running at the same time (the exact-resume
// test compares losses bit for bit). These tests therefore run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
