# common.gp: shared look of every concbench chart. The driver (scripts/plots) defines before
# loading a chart: outbase (path without extension), formats ('png svg'), png_term, svg_term,
# machine (host, CPU model, cores), and the chart's data: files (space-separated data file
# paths) and names (one legend entry per file), plus chart-specific variables.
# A chart script calls  do for [fmt in formats] { eval(term(fmt)); set output outbase.'.'.fmt; ... }
term(fmt) = 'set terminal '.(fmt eq 'png' ? png_term : svg_term)
set termoption noenhanced
set grid lc rgb '#dddddd'
set key outside right top
set style line 1 lc rgb '#1f77b4' lw 2 pt 7
set style line 2 lc rgb '#ff7f0e' lw 2 pt 5
set style line 3 lc rgb '#2ca02c' lw 2 pt 9
set style line 4 lc rgb '#d62728' lw 2 pt 11
set style line 5 lc rgb '#9467bd' lw 2 pt 13
set style line 6 lc rgb '#8c564b' lw 2 pt 15
set style line 7 lc rgb '#e377c2' lw 2 pt 4
set style line 8 lc rgb '#7f7f7f' lw 2 pt 6
set style line 9 lc rgb '#bcbd22' lw 2 pt 8
set style line 10 lc rgb '#17becf' lw 2 pt 10
set style line 11 lc rgb '#000000' lw 2 pt 12
set style line 12 lc rgb '#aec7e8' lw 2 pt 14
