# echo.gp: io.echo requests/s vs concurrent connections, one line per backend.
load plots_dir.'/common.gp'
set title "io.echo: requests/s vs connections (".cell.")\n".machine
set xlabel 'concurrent connections (log scale)'
set ylabel 'requests/s (round trips, median, 95% interval)'
set offsets graph 0.05, graph 0.05, 0, 0
set logscale x
set format x '%.0s%c'
set yrange [0:*]
do for [fmt in formats] {
    eval(term(fmt))
    set output outbase.'.'.fmt
    plot for [i=1:words(files)] word(files, i) using 1:2:3:4 with yerrorlines ls int(word(styles, i)) title word(names, i)
    unset output
}
