# skynet.gp: micro.skynet wall time per backend, one bar per tree size with its 95% interval
# as an error bar (log scale). The data file has three columns per size: median, lo, hi.
load plots_dir.'/common.gp'
set title "micro.skynet: time to spawn, run and join a tree of tasks\n".machine
set ylabel 'wall time (ms, median, 95% interval, log scale)'
set xlabel 'backend'
set logscale y
set format y '%g'
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set yrange [ymin:*]
do for [fmt in formats] {
    eval(term(fmt))
    set output outbase.'.'.fmt
    plot for [i=0:nsizes-1] datafile using (column(2+3*i)):(column(3+3*i)):(column(4+3*i)):xtic(1) \
         title columnheader(2+3*i) ls (i + 1)
    unset output
}
