# latency.gp: mix.latency probe wake delay (p50, p99, max) per backend under CPU hogs, log
# scale: a preemptive scheduler keeps it near the period, a cooperative one makes the probe
# wait for a whole hog.
load plots_dir.'/common.gp'
set title "mix.latency: probe wake delay under CPU hogs (period ".period.")\n".machine
set ylabel 'probe wake delay: woke minus due (µs, log scale)'
set xlabel 'backend (hogs)'
set logscale y
set format y '%.0s%c'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -90 font ",8"
set yrange [ymin:*]
do for [fmt in formats] {
    eval(term(fmt))
    set output outbase.'.'.fmt
    plot datafile using 2:xtic(1) title 'p50' ls 1, '' using 3 title 'p99' ls 2, '' using 4 title 'max' ls 4
    unset output
}
