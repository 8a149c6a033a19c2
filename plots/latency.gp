# latency.gp: mix.latency probe p99 wake delay vs CPU hogs, one line per backend with its 95%
# interval as error bars (log scale), beside the table's preemption threshold: a preemptive
# scheduler stays flat near the period, a cooperative one makes the probe wait for a whole hog.
load plots_dir.'/common.gp'
set title "mix.latency: probe p99 wake delay vs CPU hogs (period ".period.")\n".machine
set ylabel 'p99 wake delay: woke minus due (µs, median, 95% interval, log scale)'
set xlabel 'CPU hogs beside the probe'
set logscale y
set format y '%.0s%c'
set xtics 1
set offsets 0.3, 0.3, 0, 0
do for [fmt in formats] {
    eval(term(fmt))
    set output outbase.'.'.fmt
    plot for [i=1:words(files)] word(files, i) using 1:2:3:4 with yerrorlines ls int(word(styles, i)) title word(names, i), \
         threshold with lines dt 2 lw 1.5 lc rgb '#555555' title 'preemptive below (table threshold)'
    unset output
}
