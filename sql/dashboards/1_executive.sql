-- title: Vue Exécutive
-- Each query below is one visual of the page; `-- name:` starts a query, `-- title:` and `-- chart:` describe
-- how the page shows it (a chart draws its first measure column; the others are in its data table). Every
-- query runs as is with `omnimarket query`; the page's slicers add their conditions to the WHERE of each
-- semantic block (the filter context).

-- name: kpis
-- title: Indicateurs clés
-- chart: cards
SELECT MEASURE(CA_HT), MEASURE(CA_Total), MEASURE(Marge_Totale), MEASURE(CA_YTD), MEASURE(Panier_Moyen), MEASURE(Nb_Clients_Actifs)
FROM omnimarket;

-- name: ca_par_canal
-- title: CA TTC par canal
-- chart: donut
SELECT Nom_Canal, CA_Total, CA_Total / SUM(CA_Total) OVER () AS Part_CA
FROM (SELECT Nom_Canal, MEASURE(CA_Total) AS CA_Total FROM omnimarket GROUP BY Nom_Canal) AS c
ORDER BY CA_Total DESC;

-- name: ca_mensuel
-- title: CA TTC mensuel et moyenne mobile 3 mois
-- chart: line
SELECT Annee, Mois, MEASURE(CA_Total), MEASURE(CA_MA_3_Mois) FROM omnimarket GROUP BY Annee, Mois;

-- name: evolution_annuelle
-- title: Évolution du CA sur un an
-- chart: bar
SELECT Annee, MEASURE(Evolution_CA_YoY), MEASURE(CA_Total) FROM omnimarket GROUP BY Annee;
