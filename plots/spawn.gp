# spawn.gp: two panels: micro.spawn cost per task and micro.idle resident bytes per parked
# task, each vs the number of tasks, one line per backend (log-log).
load plots_dir.'/common.gp'
set logscale xy
set format x '%.0s%c'
set format y '%.0s%c'
do for [fmt in formats] {
    eval(term(fmt))
    set output outbase.'.'.fmt
    set multiplot layout 1,2 title "Spawn cost and memory per task vs tasks\n".machine
    set title 'micro.spawn: spawn + join'
    set xlabel 'tasks (log scale)'
    set ylabel 'time per task (ns, median, 95% interval, log scale)'
    set key inside bottom right font ',9'
    if (words(files) > 0) {
        plot for [i=1:words(files)] word(files, i) using 1:2:3:4 with yerrorlines ls int(word(styles, i)) title word(names, i)
    } else {
        unset logscale xy
        set label 1 'not measured' at graph 0.5, 0.5 center
        plot [0:1] [0:1] NaN notitle
        unset label 1
        set logscale xy
    }
    set title 'micro.idle: resident memory per parked task'
    set ylabel 'bytes per task (median, 95% interval, log scale)'
    if (words(files2) > 0) {
        plot for [i=1:words(files2)] word(files2, i) using 1:2:3:4 with yerrorlines ls int(word(styles2, i)) title word(names2, i)
    } else {
        unset logscale xy
        set label 1 'not measured' at graph 0.5, 0.5 center
        plot [0:1] [0:1] NaN notitle
        unset label 1
        set logscale xy
    }
    unset multiplot
    unset output
}
