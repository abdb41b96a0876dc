/* An empty library, preloaded as the reference: what merely preloading any library costs. */
int psum_bench_empty_preload(void);
int psum_bench_empty_preload(void)
{
    return 0;
}
