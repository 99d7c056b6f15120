"""The promotion board: what every alias serves, since when, who promoted it, on what evidence.

`reads.read` fetches what the board needs from the registry (paged, counted, at most one
run fetch per version shown); `model.build` turns those reads and the pins file into the
board (pure); `modelpins status` prints it as a table or JSON and `modelpins site` renders
it as static HTML (modelpins.site).
"""
