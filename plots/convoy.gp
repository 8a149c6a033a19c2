# convoy.gp: mix.convoy: one echo connection's requests/s vs CPU hogs in the same process,
# one line per backend (the GIL convoy effect shows as a collapse after 0 hogs).
load plots_dir.'/common.gp'
set title "mix.convoy: one connection's requests/s beside CPU hogs\n".machine
set xlabel 'CPU hogs in the same process'
set ylabel 'requests/s (median, 95% interval, log scale)'
set logscale y
set format y '%.0s%c'
set xrange [-0.5:*]
set offsets 0, 0.5, 0, 0
set xtics 1
do for [fmt in formats] {
    eval(term(fmt))
    set output outbase.'.'.fmt
    plot for [i=1:words(files)] word(files, i) using 1:2:3:4 with yerrorlines ls int(word(styles, i)) title word(names, i)
    unset output
}
