# compare.gp: two panels over several run folders (scripts/compare). Left: cpu.fib speedup
# vs workers of every machine overlaid (legend backend@run letter). Right: each cell's ratio
# of medians other run / first run (log scale), filled points where the difference is
# outside both runs' min..max spread, hollow where it is not significant.
load plots_dir.'/common.gp'
do for [fmt in formats] {
    eval(term(fmt))
    set output outbase.'.'.fmt
    set multiplot layout 1,2 title "concbench: machines compared\n".machine
    set title 'cpu.fib speedup over serial vs workers'
    set xlabel 'workers'
    set ylabel 'speedup over serial (x)'
    set key inside top left
    set xrange [0.5:*]
    set xtics 1
    set yrange [0:*]
    if (words(files) > 0) {
        plot for [i=1:words(files)] word(files, i) using 1:2:3:4 with yerrorlines ls int(word(styles, i)) dt int(word(dashes, i)) title word(names, i)
    } else {
        set label 1 'cpu.fib not in both runs' at graph 0.5, 0.5 center
        plot [0:1] [0:1] NaN notitle
        unset label 1
    }
    set title 'per-cell ratio of medians (filled: outside the spread)'
    set xlabel 'cell (order of compare.md)'
    set ylabel 'other / first run (log scale)'
    set logscale y
    set xrange [0:*]
    set xtics autofreq
    set yrange [*:*]
    set key outside bottom center horizontal
    set bmargin 5
    if (words(rfiles) > 0) {
        plot for [i=1:words(rfiles)] word(rfiles, i) using 1:($3 > 0 ? $2 : NaN) with points ls i pt 7 title word(rnames, i), \
             for [i=1:words(rfiles)] word(rfiles, i) using 1:($3 > 0 ? NaN : $2) with points ls i pt 6 notitle, \
             1 with lines dt 2 lc rgb '#888888' notitle
    } else {
        set label 1 'no cell in both runs' at graph 0.5, 0.5 center
        plot [0:1] [0.5:2] NaN notitle
        unset label 1
    }
    unset logscale y
    unset multiplot
    unset output
}
