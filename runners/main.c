/* main.c: the bench command's entry point (kept apart so tests link the rest). */
int cb_main(int argc, char **argv);
int main(int argc, char **argv) { return cb_main(argc, argv); }
