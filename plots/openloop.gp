# openloop.gp: io.echo open loop, p99 latency (from each request's intended send time) vs
# offered load, one line per backend with its 95% interval as error bars (log scale), beside
# the 1 ms line that defines a backend's knee. Drawn twice by scripts/plots: x in requests/s
# (xmode 'rate') and in % of each backend's own closed-loop peak (xmode 'pct'). Points where
# the load generator fell behind its schedule (bfiles) are hollow marks in the backend's
# colour, off its line: they are not the server's latency.
load plots_dir.'/common.gp'
set title "io.echo open loop: p99 latency vs offered load (".cell.")\n".machine
set ylabel 'p99 latency from intended send time (µs, median, 95% interval, log scale)'
if (xmode eq 'pct') {
    set xlabel "offered load, % of the backend's own closed-loop peak"
    set xrange [0:*]
} else {
    set xlabel 'offered load (requests/s, log scale)'
    set logscale x
    set format x '%.0s%c'
}
set logscale y
set format y '%.0s%c'
# gnuplot evaluates a plot-for's style once even over an empty range (a backend may have no
# point on schedule, or none behind): an empty list must not reach int()
lstyle(list, i) = i <= words(list) ? int(word(list, i)) : 1
set offsets graph 0.03, graph 0.03, 0, 0
set key below
do for [fmt in formats] {
    eval(term(fmt))
    set output outbase.'.'.fmt
    plot for [i=1:words(files)] word(files, i) using 1:2:3:4 with yerrorlines ls lstyle(styles, i) title word(names, i), \
         for [i=1:words(bfiles)] word(bfiles, i) using 1:2 with points ls lstyle(bstyles, i) pt 6 ps 1.5 \
             title (word(bnames, i) eq '-' ? '' : word(bnames, i)), \
         (words(bfiles) ? NaN : 1/0) with points pt 6 ps 1.5 lc rgb '#555555' \
             title "hollow: the load generator fell behind (not the server's latency)", \
         threshold with lines dt 2 lw 1.5 lc rgb '#555555' title 'knee: p99 below 1 ms'
    unset output
}
