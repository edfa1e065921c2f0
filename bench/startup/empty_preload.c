/*
 * empty_preload.c - a preloadable library that does nothing: the reference for what any
 * LD_PRELOAD costs a process at start-up here (opening and mapping one more object, one more
 * entry in every symbol lookup), so that the agent's own share can be told apart from it.
 */
__attribute__((visibility("default"))) int wt_bench_empty_preload;
