-- title: Retours & Logistique

-- name: kpis
-- title: Indicateurs retours
-- chart: cards
SELECT MEASURE(Nb_Retours), MEASURE(Taux_Retour), MEASURE(Indice_Qualite_Logistique), MEASURE(Montant_Retours) FROM omnimarket;

-- name: par_motif
-- title: Retours par motif
-- chart: donut
SELECT Motif, Nb_Retours, CAST(Nb_Retours AS DOUBLE) / SUM(Nb_Retours) OVER () AS Part_Retours
FROM (SELECT Motif, MEASURE(Nb_Retours) AS Nb_Retours FROM omnimarket GROUP BY Motif) AS m
ORDER BY Nb_Retours DESC;

-- name: mensuel
-- title: Retours par mois
-- chart: line
SELECT Annee, Mois, MEASURE(Nb_Retours) FROM omnimarket GROUP BY Annee, Mois;

-- name: par_produit
-- title: Montant remboursé par produit (top 15)
-- chart: bar
SELECT Nom_Produit, MEASURE(Montant_Retours) FROM omnimarket GROUP BY Nom_Produit ORDER BY MEASURE(Montant_Retours) DESC LIMIT 15;

-- name: par_produit_motif
-- title: Montant remboursé par produit et motif (top 20)
-- chart: table
SELECT Nom_Produit, Motif, MEASURE(Montant_Retours) FROM omnimarket GROUP BY Nom_Produit, Motif ORDER BY MEASURE(Montant_Retours) DESC LIMIT 20;

-- name: par_transporteur
-- title: Retours par transporteur
-- chart: bar
SELECT Transporteur, MEASURE(Nb_Retours), MEASURE(Taux_Retour), MEASURE(Montant_Retours) FROM omnimarket GROUP BY Transporteur;
