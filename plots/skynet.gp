# skynet.gp: micro.skynet wall time per backend, one bar per tree size (log scale).
load plots_dir.'/common.gp'
set title "micro.skynet: time to spawn, run and join a tree of tasks\n".machine
set ylabel 'wall time (ms, median, log scale)'
set xlabel 'backend'
set logscale y
set format y '%g'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set yrange [ymin:*]
do for [fmt in formats] {
    eval(term(fmt))
    set output outbase.'.'.fmt
    plot for [i=2:ncols] datafile using i:xtic(1) title columnheader(i) ls (i - 1)
    unset output
}
